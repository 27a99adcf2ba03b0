"""pg_hba rules: first-match reachability, and the TLS and SCRAM checks built on it."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status, collection_error
from assay.checks.postgres.checks.hba import GSS, PLAIN, TLS, describe, is_remote, reachable
from assay.testing import make_resource, run_check

# The loopback rules initdb writes; they admit the server's own machine only.
LOOPBACK = ["local all all trust", "host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"]
MASKS = {"0": "0.0.0.0", "8": "255.0.0.0", "16": "255.255.0.0", "24": "255.255.255.0"}


def rule(line: int, text: str) -> dict[str, Any]:
    """A pg_hba_file_rules row from a pg_hba.conf line (IPv4 CIDR, ::1/128, or a keyword)."""
    kind, database, user, *rest = text.split()
    if kind == "local":
        address, netmask, method = None, None, rest[0]
    else:
        where, method = rest[0], rest[1]
        address, _, bits = where.partition("/")
        if not bits:
            netmask = None
        elif ":" in address:
            netmask = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        else:
            netmask = MASKS.get(bits, "255.255.255.255")
    return {
        "line": line,
        "type": kind,
        "database": database.split(","),
        "user": user.split(","),
        "address": address,
        "netmask": netmask,
        "method": method,
        "options": None,
        "error": None,
    }


def hba(*lines: str, password_encryption: str = "scram-sha-256") -> dict[str, Any]:
    rules = [rule(i, text) for i, text in enumerate([*LOOPBACK, *lines], 1)]
    return make_resource(
        "postgres.server",
        {"settings": {"password_encryption": password_encryption}, "hba_rules": rules},
    )


@pytest.mark.parametrize(
    ("text", "remote"),
    [
        ("local all all trust", False),
        ("host all all 127.0.0.1/32 trust", False),
        ("host all all 127.0.0.0/8 trust", False),
        ("host all all ::1/128 trust", False),
        ("host all all localhost trust", False),
        ("host all all samehost trust", False),
        ("host all all 10.0.0.0/8 md5", True),
        ("host all all 0.0.0.0/0 md5", True),
        ("host all all all md5", True),
        ("host all all samenet md5", True),
        ("host all all .example.com md5", True),
    ],
)
def test_what_counts_as_remote(text: str, remote: bool) -> None:
    assert is_remote(rule(1, text)) is remote


def test_an_earlier_reject_for_plain_connections_leaves_only_tls() -> None:
    rules = [
        rule(1, "hostnossl all all 0.0.0.0/0 reject"),
        rule(2, "host all all 10.0.0.0/8 scram-sha-256"),
    ]
    found = reachable(rules)
    assert [(r["line"], t) for r, t in found] == [(1, {PLAIN, GSS}), (2, {TLS})]


@pytest.mark.parametrize(
    "earlier",
    [
        "hostnossl all all 10.0.0.0/16 reject",  # a narrower network
        "hostnossl app all 0.0.0.0/0 reject",  # some databases only
        "hostnossl all alice 0.0.0.0/0 reject",  # some users only
        "hostnossl all all ::1/128 reject",  # another address family
    ],
)
def test_an_earlier_rule_that_covers_less_leaves_the_rule_reachable(earlier: str) -> None:
    rules = [rule(1, earlier), rule(2, "host all all 10.0.0.0/8 scram-sha-256")]
    assert PLAIN in dict((r["line"], t) for r, t in reachable(rules))[2]


def test_all_databases_does_not_cover_replication() -> None:
    rules = [
        rule(1, "hostnossl all all 0.0.0.0/0 reject"),
        rule(2, "host replication all 10.0.0.0/8 md5"),
    ]
    assert PLAIN in dict((r["line"], t) for r, t in reachable(rules))[2]


def test_describe_shows_the_rule_as_written() -> None:
    assert describe(rule(7, "host all all 10.0.0.0/8 md5")) == "line 7: host all all 10.0.0.0/8 md5"
    included = {**rule(3, "hostssl app alice all scram-sha-256"), "file": "/etc/pg/extra.conf"}
    assert describe(included) == "/etc/pg/extra.conf:3: hostssl app alice all scram-sha-256"


# -- postgres.server.remote_tls


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        ((), Status.PASS),
        (("hostssl all all 0.0.0.0/0 scram-sha-256",), Status.PASS),
        (("hostgssenc all all 0.0.0.0/0 gss",), Status.PASS),
        (("host all all 0.0.0.0/0 reject",), Status.PASS),
        (
            ("hostnossl all all 0.0.0.0/0 reject", "host all all 0.0.0.0/0 scram-sha-256"),
            Status.PASS,
        ),
        (("host all all 10.0.0.0/8 scram-sha-256",), Status.FAIL),
        (("hostnossl all all 10.0.0.0/8 scram-sha-256",), Status.FAIL),
        (("hostnogssenc all all 10.0.0.0/8 scram-sha-256",), Status.FAIL),
        # The reject comes too late: the host line matches first.
        (
            ("host all all 0.0.0.0/0 scram-sha-256", "hostnossl all all 0.0.0.0/0 reject"),
            Status.FAIL,
        ),
    ],
)
def test_remote_tls(lines: tuple[str, ...], status: Status) -> None:
    result = run_check("postgres.server.remote_tls", hba(*lines))
    assert result.status is status, result.reason


def test_remote_tls_names_the_open_rules() -> None:
    result = run_check(
        "postgres.server.remote_tls",
        hba("hostssl all all 0.0.0.0/0 scram-sha-256", "host app all 10.0.0.0/8 scram-sha-256"),
    )
    assert result.observed == {"rules": ["line 5: host app all 10.0.0.0/8 scram-sha-256"]}
    assert "admit non-local clients without encryption" in result.reason


def test_unreadable_rules_are_error_naming_the_grant() -> None:
    resource = hba()
    resource["attributes"]["hba_rules"] = collection_error(
        "InsufficientPrivilege",
        "permission denied for view pg_hba_file_rules",
        "SELECT ON pg_hba_file_rules and EXECUTE ON FUNCTION pg_hba_file_rules()",
    )
    for name in ("postgres.server.remote_tls", "postgres.server.scram_authentication"):
        result = run_check(name, resource)
        assert result.status is Status.ERROR
        assert "missing permission SELECT ON pg_hba_file_rules" in result.reason


def test_a_line_the_server_cannot_parse_is_error() -> None:
    resource = hba()
    resource["attributes"]["hba_rules"].append(
        {
            **rule(9, "host all all 0.0.0.0/0 md5"),
            "type": None,
            "error": 'invalid auth method "md6"',
        }
    )
    result = run_check("postgres.server.remote_tls", resource)
    assert result.status is Status.ERROR
    assert 'line 9: invalid auth method "md6"' in result.reason


# -- postgres.server.scram_authentication


def test_md5_password_encryption_fails_whatever_the_rules() -> None:
    resource = hba(password_encryption="md5")
    resource["attributes"]["hba_rules"] = collection_error("InsufficientPrivilege", "denied")
    result = run_check("postgres.server.scram_authentication", resource)
    assert result.status is Status.FAIL
    assert result.observed == {"password_encryption": "md5"}


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        ((), Status.PASS),  # loopback trust is local
        (("hostssl all all 0.0.0.0/0 scram-sha-256",), Status.PASS),
        (("hostssl all all 0.0.0.0/0 md5",), Status.FAIL),
        (("host all all 10.0.0.0/8 trust",), Status.FAIL),
        (("host all all all password",), Status.FAIL),
        # Shadowed for every transport by an earlier rule, so never used.
        (("host all all 0.0.0.0/0 scram-sha-256", "host all all 10.0.0.0/8 md5"), Status.PASS),
        # Shadowed for plain TCP only: TLS clients still reach md5.
        (("hostnossl all all 0.0.0.0/0 reject", "host all all 0.0.0.0/0 md5"), Status.FAIL),
    ],
)
def test_scram_authentication(lines: tuple[str, ...], status: Status) -> None:
    result = run_check("postgres.server.scram_authentication", hba(*lines))
    assert result.status is status, result.reason


def test_more_methods_can_be_forbidden() -> None:
    resource = hba("hostssl all all 0.0.0.0/0 ident")
    assert run_check("postgres.server.scram_authentication", resource).status is Status.PASS
    result = run_check(
        "postgres.server.scram_authentication",
        resource,
        forbidden_methods=["trust", "password", "md5", "ident"],
    )
    assert result.status is Status.FAIL
    assert result.observed["rules"] == ["line 4: hostssl all all 0.0.0.0/0 ident"]
