"""Single sign-on through a reverse proxy (oauth2-proxy and the like) that names the user.

Trusted only when switched on with the proxy's own address: a request from anywhere else
that carries the header is treated as anonymous, so nobody reaches the console past the
proxy by setting the header themselves. The proxy passes the user (``X-Forwarded-Email``
by default) and their groups (``X-Forwarded-Groups``, comma-separated); each console role
is granted to the groups named for it, the strongest role winning.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assay.errors import ConfigError
from assay.serve.sessions import Identity
from assay.serve.tokens import Role, check_name

# The strongest role first: who is in two groups gets the one listed first.
_RANK = (Role.ADMIN, Role.PRIVACY, Role.AUDITOR)


@dataclass(frozen=True)
class ProxyIdentity:
    """Whom to believe, which headers to read, and which groups hold which role."""

    addresses: frozenset[str]
    groups: Mapping[Role, frozenset[str]] = field(default_factory=dict)
    user_header: str = "X-Forwarded-Email"
    groups_header: str = "X-Forwarded-Groups"

    @classmethod
    def parse(
        cls,
        addresses: Sequence[str],
        grants: Sequence[str],
        *,
        user_header: str = "X-Forwarded-Email",
        groups_header: str = "X-Forwarded-Groups",
    ) -> ProxyIdentity:
        """From ``--proxy-address`` values (IP addresses) and ``--proxy-role ROLE=GROUP``
        values; ConfigError naming the option for anything else."""
        parsed = set()
        for address in addresses:
            try:
                parsed.add(str(ipaddress.ip_address(address.strip())))
            except ValueError:
                raise ConfigError(
                    f"{address!r} is not an IP address: expected the proxy's own address, "
                    "e.g. 127.0.0.1",
                    field="--proxy-address",
                ) from None
        groups: dict[Role, set[str]] = {}
        for grant in grants:
            role, sep, group = grant.partition("=")
            if not sep or role not in Role.__members__.values() or not group.strip():
                raise ConfigError(
                    f"{grant!r}: expected ROLE=GROUP with ROLE one of "
                    f"{', '.join(r.value for r in Role)}",
                    field="--proxy-role",
                )
            groups.setdefault(Role(role), set()).add(group.strip())
        if not groups:
            raise ConfigError(
                "a proxy needs at least one --proxy-role ROLE=GROUP: nobody would get a role",
                field="--proxy-role",
            )
        return cls(
            frozenset(parsed),
            {role: frozenset(names) for role, names in groups.items()},
            user_header,
            groups_header,
        )

    def identify(self, client: str | None, headers: Mapping[str, str]) -> Identity | None:
        """Who the proxy says sent the request, if it came from the proxy and names a user
        in a group that holds a role; else None."""
        if client is None or client not in self.addresses:
            return None
        user = headers.get(self.user_header, "").strip()
        if not user:
            return None
        member = {g.strip() for g in headers.get(self.groups_header, "").split(",")}
        for role in _RANK:
            if member & self.groups.get(role, frozenset()):
                try:
                    return Identity(check_name(user), role, via="proxy")
                except ConfigError:
                    return None
        return None
