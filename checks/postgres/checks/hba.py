"""Client authentication: which pg_hba rules a remote client can reach, and the checks on them.

pg_hba.conf is first-match: a rule only matters for the connections no earlier rule
takes. The common way to require TLS is a `hostnossl ... reject` line followed by a
plain `host` line; a check that judges the `host` line alone reports a false failure.
So a rule is judged for each transport (plain TCP, TLS, GSSAPI encryption) that can
still reach it, given the earlier rules that fully cover its databases, users and
addresses. Coverage is decided conservatively (`all`, equal lists, a wider network):
when unsure, a rule counts as reachable, which can only make a check stricter.

pg_hba_file_rules shows the file as it is on disk, which is what the server loads on
its next reload; a rule with a parse error makes the verdict `error`, since the
server then keeps rules we cannot see.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.postgres.checks.settings import setting
from assay.checks.postgres.collect.server import SERVER
from assay.checks.registry import check
from assay.checks.result import Result, attribute

PLAIN, TLS, GSS = "plain TCP", "TLS", "GSSAPI encryption"
# The transports each TCP rule type matches.
TRANSPORTS: dict[str, frozenset[str]] = {
    "host": frozenset({PLAIN, TLS, GSS}),
    "hostssl": frozenset({TLS}),
    "hostnossl": frozenset({PLAIN, GSS}),
    "hostgssenc": frozenset({GSS}),
    "hostnogssenc": frozenset({PLAIN, TLS}),
}
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Addresses that only the server's own machine connects from.
_LOCAL_NAMES = {"localhost", "samehost"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def network(rule: dict[str, Any]) -> Network | None:
    """The rule's address as a network, or None for a keyword (all, samenet) or a host name."""
    address, netmask = rule.get("address"), rule.get("netmask")
    if not address or not netmask:
        return None
    try:
        addr = ipaddress.ip_address(address)
        prefix = bin(int(ipaddress.ip_address(netmask))).count("1")
        return ipaddress.ip_network((addr, prefix), strict=False)
    except ValueError:
        return None


def is_remote(rule: dict[str, Any]) -> bool:
    """Whether a TCP rule admits clients other than the server's own machine."""
    if rule.get("type") not in TRANSPORTS:
        return False  # `local` (Unix socket) rules
    net = network(rule)
    if net is not None:
        return not any(net.version == lo.version and net.subnet_of(lo) for lo in _LOOPBACK)  # type: ignore[arg-type]
    return rule.get("address") not in _LOCAL_NAMES


def _names_cover(earlier: list[str], later: list[str], *, databases: bool) -> bool:
    # `all` does not match replication connections.
    if "all" in earlier and not (databases and "replication" in later):
        return True
    return set(later) <= set(earlier)


def _address_covers(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    if earlier.get("address") == "all":
        return True
    wide, narrow = network(earlier), network(later)
    if wide is not None and narrow is not None:
        return wide.version == narrow.version and narrow.subnet_of(wide)  # type: ignore[arg-type]
    return wide is None and narrow is None and earlier.get("address") == later.get("address")


def covers(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Whether `earlier` matches every connection `later` matches (databases, users, address)."""
    return (
        _names_cover(earlier.get("database") or [], later.get("database") or [], databases=True)
        and _names_cover(earlier.get("user") or [], later.get("user") or [], databases=False)
        and _address_covers(earlier, later)
    )


def reachable(rules: list[dict[str, Any]]) -> list[tuple[dict[str, Any], frozenset[str]]]:
    """Each remote rule with the transports that can still reach it, in file order."""
    out = []
    for i, rule in enumerate(rules):
        if not is_remote(rule):
            continue
        transports = TRANSPORTS[rule["type"]]
        for earlier in rules[:i]:
            if earlier.get("type") in TRANSPORTS and covers(earlier, rule):
                transports -= TRANSPORTS[earlier["type"]]
        if transports:
            out.append((rule, transports))
    return out


def describe(rule: dict[str, Any]) -> str:
    """A rule as written, after its location: ``line 95: host all all 0.0.0.0/0 md5``."""
    where = f"{rule['file']}:{rule['line']}" if rule.get("file") else f"line {rule['line']}"
    net = network(rule)
    address = str(net) if net is not None else rule.get("address") or ""
    fields = [
        rule.get("type") or "?",
        ",".join(rule.get("database") or []),
        ",".join(rule.get("user") or []),
        address,
        rule.get("method") or "?",
    ]
    return f"{where}: {' '.join(f for f in fields if f)}"


def _readable_rules(resource: dict[str, Any]) -> list[dict[str, Any]] | Result:
    """The collected rules, or an `error` result when the file has lines the server rejects."""
    rules: list[dict[str, Any]] = attribute(resource, "hba_rules") or []
    broken = [r for r in rules if r.get("error")]
    if broken:
        return Result.error(
            "pg_hba.conf has lines the server cannot parse, so it keeps rules we cannot see: "
            + "; ".join(f"line {r['line']}: {r['error']}" for r in broken),
            errors=[{"line": r["line"], "error": r["error"]} for r in broken],
        )
    return rules


@check(
    "postgres.server.remote_tls",
    resource=SERVER,
    permissions=[
        "postgres:SELECT ON pg_hba_file_rules",
        "postgres:EXECUTE ON FUNCTION pg_hba_file_rules()",
    ],
)
def remote_tls(resource: dict[str, Any], params: Any) -> Result:
    """Pass when no pg_hba rule lets a non-local client in over plain TCP (unencrypted).

    A rule reachable over plain TCP fails unless its method is `reject`; GSSAPI
    encryption counts as encrypted. `observed.rules` lists the failing rules.
    """
    rules = _readable_rules(resource)
    if isinstance(rules, Result):
        return rules
    open_rules = [
        describe(rule)
        for rule, transports in reachable(rules)
        if PLAIN in transports and rule.get("method") != "reject"
    ]
    if open_rules:
        return Result.failed(
            f"{len(open_rules)} pg_hba rule(s) admit non-local clients without encryption "
            f"(use hostssl, or put a hostnossl ... reject line first): {'; '.join(open_rules)}",
            rules=open_rules,
        )
    return Result.passed("non-local clients can only connect over TLS (or GSSAPI encryption)")


AuthMethod = Literal["trust", "password", "md5", "ident", "pam", "radius", "ldap"]


class ScramParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forbidden_methods: list[AuthMethod] = Field(
        default=["trust", "password", "md5"],
        description="Authentication methods no rule for non-local clients may use.",
    )


@check(
    "postgres.server.scram_authentication",
    resource=SERVER,
    params=ScramParams,
    permissions=[
        "postgres:CONNECT",
        "postgres:SELECT ON pg_hba_file_rules",
        "postgres:EXECUTE ON FUNCTION pg_hba_file_rules()",
    ],
)
def scram_authentication(resource: dict[str, Any], params: ScramParams) -> Result:
    """Pass when new passwords are stored as SCRAM and no reachable pg_hba rule for
    non-local clients uses a method in `params.forbidden_methods`.

    A wrong `password_encryption` fails even when the rules cannot be read.
    """
    encryption = setting(resource, "password_encryption")
    if encryption != "scram-sha-256":
        return Result.failed(
            f"password_encryption is {encryption!r}, so new passwords are stored as MD5 "
            "hashes; expected scram-sha-256",
            password_encryption=encryption,
        )
    rules = _readable_rules(resource)
    if isinstance(rules, Result):
        return rules
    weak = [
        describe(rule)
        for rule, _ in reachable(rules)
        if rule.get("method") in params.forbidden_methods
    ]
    if weak:
        return Result.failed(
            f"{len(weak)} pg_hba rule(s) let non-local clients authenticate with "
            f"{'/'.join(params.forbidden_methods)}: {'; '.join(weak)}",
            password_encryption=encryption,
            rules=weak,
        )
    return Result.passed(
        "passwords are stored as SCRAM and non-local clients cannot use "
        + "/".join(params.forbidden_methods),
        password_encryption=encryption,
    )
