"""Reading IAM policy documents (identity and bucket policies) for the checks that judge them.

Pure functions over the JSON document as AWS returns it: `Statement`, `Action`,
`Resource` and `Principal` may each be one value or a list.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from fnmatch import fnmatchcase
from typing import Any

from assay.checks.attribute_paths import without_floats

# A condition on one of these keys ties an Allow for "*" to known accounts, networks or
# sources, so AWS does not count the statement as public (the same keys its policy
# status evaluation treats as fixed).
RESTRICTING_KEYS = frozenset(
    {
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceip",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:userid",
        "s3:dataaccesspointaccount",
        "s3:dataaccesspointarn",
    }
)

# Actions that, with aws:SecureTransport false, cover reading and writing objects.
_ALL_S3 = ("*", "s3:*")
_OBJECT_IO = ("s3:GetObject", "s3:PutObject")


def parse(text: str) -> dict[str, Any]:
    """A policy document from its JSON text, with floats (numbers in conditions) as text."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"expected a policy document object; got {type(document).__name__}")
    return without_floats(document)  # type: ignore[no-any-return]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of `document`, as a list (AWS allows a single statement object)."""
    if not document:
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def label(statement: Mapping[str, Any], index: int) -> str:
    """How a reason names a statement: its Sid, else its position."""
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"statement #{index + 1}"


def admin_statements(document: Mapping[str, Any] | None) -> list[str]:
    """Labels of the statements that Allow Action "*" on Resource "*" (full administrator)."""
    return [
        label(s, i)
        for i, s in enumerate(statements(document))
        if s.get("Effect") == "Allow"
        and "*" in as_list(s.get("Action"))
        and "*" in as_list(s.get("Resource"))
    ]


def administrative_grants(
    document: Mapping[str, Any] | None, escalation: Collection[str]
) -> list[str]:
    """What each Allow statement on Resource "*" grants of administrator power: every
    action (``*`` or ``*:*``), or any of the `escalation` actions (those that let a
    principal give itself more: ``iam:PutUserPolicy``...), matched through wildcards such
    as ``iam:*`` or ``iam:Put*`` and through NotAction. One phrase per statement.

    Deny statements are not subtracted: a grant hidden behind a Deny is one edit away.
    """
    found = []
    for i, s in enumerate(statements(document)):
        if s.get("Effect") != "Allow" or "*" not in as_list(s.get("Resource")):
            continue
        actions = [str(a).lower() for a in as_list(s.get("Action"))]
        excluded = [str(a).lower() for a in as_list(s.get("NotAction"))]
        if "*" in actions or "*:*" in actions or ("NotAction" in s and not excluded):
            found.append(f"{label(s, i)} allows * on *")
            continue
        if "NotAction" in s:
            hits = [e for e in escalation if not any(fnmatchcase(e.lower(), a) for a in excluded)]
        else:
            hits = [e for e in escalation if any(fnmatchcase(e.lower(), a) for a in actions)]
        if hits:
            found.append(f"{label(s, i)} allows {', '.join(hits)} on *")
    return found


def is_anyone(principal: Any) -> bool:
    """Whether a Principal names everyone: ``"*"`` or ``{"AWS": "*"}``."""
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


def public_statements(document: Mapping[str, Any] | None) -> list[str]:
    """Labels of the Allow statements granting anyone access with no restricting condition."""
    found = []
    for i, s in enumerate(statements(document)):
        if s.get("Effect") != "Allow" or not is_anyone(s.get("Principal")):
            continue
        keys = {
            key.lower()
            for operator in (s.get("Condition") or {}).values()
            if isinstance(operator, dict)
            for key in operator
        }
        if not keys & RESTRICTING_KEYS:
            found.append(label(s, i))
    return found


def insecure_transport_denials(document: Mapping[str, Any] | None) -> list[str]:
    """Labels of the statements denying everyone every object read and write without TLS."""
    found = []
    for i, s in enumerate(statements(document)):
        if s.get("Effect") != "Deny" or not is_anyone(s.get("Principal")):
            continue
        actions = as_list(s.get("Action"))
        if not (any(a in _ALL_S3 for a in actions) or all(a in actions for a in _OBJECT_IO)):
            continue
        for operator, pairs in (s.get("Condition") or {}).items():
            if operator.lower() not in ("bool", "boolifexists") or not isinstance(pairs, dict):
                continue
            for key, value in pairs.items():
                if key.lower() == "aws:securetransport" and [
                    str(v).lower() for v in as_list(value)
                ] == ["false"]:
                    found.append(label(s, i))
    return found
