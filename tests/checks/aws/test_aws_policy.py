"""Policy-document reading: administrator statements, public grants, TLS-only denials."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks.aws.policy import (
    admin_statements,
    insecure_transport_denials,
    is_anyone,
    parse,
    public_statements,
    statements,
)


def doc(*stmts: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(stmts)}


ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
TLS_DENY = {
    "Sid": "TLS",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_parse_keeps_numbers_in_conditions_out_of_floats() -> None:
    text = '{"Statement": {"Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}}'
    assert parse(text)["Statement"]["Condition"]["NumericLessThan"]["s3:TlsVersion"] == "1.2"
    with pytest.raises(ValueError, match="policy document object"):
        parse("[]")


def test_a_single_statement_object_counts_as_a_list() -> None:
    assert statements({"Statement": ADMIN}) == [ADMIN]
    assert statements(None) == []


@pytest.mark.parametrize(
    ("statement", "admin"),
    [
        (ADMIN, True),
        ({**ADMIN, "Action": ["s3:GetObject", "*"], "Resource": ["*"]}, True),
        (
            {
                **ADMIN,
                "Sid": "Admin",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            },
            True,
        ),
        ({**ADMIN, "Effect": "Deny"}, False),
        ({**ADMIN, "Action": "s3:*"}, False),
        ({**ADMIN, "Resource": "arn:aws:s3:::b/*"}, False),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, False),
    ],
)
def test_admin_statements_allow_star_on_star(statement: dict[str, Any], admin: bool) -> None:
    assert bool(admin_statements(doc(statement))) is admin


def test_statements_are_named_by_sid_else_position() -> None:
    assert admin_statements(doc({"Effect": "Deny", "Action": "*"}, ADMIN)) == ["statement #2"]
    assert admin_statements(doc({**ADMIN, "Sid": "All"})) == ["statement 'All'"]


@pytest.mark.parametrize(
    ("principal", "anyone"),
    [
        ("*", True),
        ({"AWS": "*"}, True),
        ({"AWS": ["arn:aws:iam::1:root", "*"]}, True),
        ({"AWS": "arn:aws:iam::1:root"}, False),
        ({"Service": "logging.s3.amazonaws.com"}, False),
    ],
)
def test_anyone_is_star_or_aws_star(principal: Any, anyone: bool) -> None:
    assert is_anyone(principal) is anyone


def test_a_public_statement_is_an_allow_to_anyone_without_a_restricting_condition() -> None:
    read = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    assert public_statements(doc(read)) == ["statement #1"]
    org = {**read, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}
    vpce = {**read, "Condition": {"StringEquals": {"AWS:SourceVpce": "vpce-1"}}}
    agent = {**read, "Condition": {"StringLike": {"aws:UserAgent": "curl*"}}}
    assert public_statements(doc(org, vpce)) == []
    assert public_statements(doc(agent)) == ["statement #1"]
    assert public_statements(doc({**read, "Effect": "Deny"})) == []


@pytest.mark.parametrize(
    ("change", "denies"),
    [
        ({}, True),
        ({"Action": "*"}, True),
        ({"Action": ["s3:GetObject", "s3:PutObject"]}, True),
        ({"Principal": {"AWS": "*"}}, True),
        ({"Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}, True),
        ({"Action": "s3:GetObject"}, False),
        ({"Effect": "Allow"}, False),
        ({"Principal": {"AWS": "arn:aws:iam::1:root"}}, False),
        ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, False),
        ({"Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}, False),
    ],
)
def test_a_tls_denial_denies_everyone_all_object_io_without_secure_transport(
    change: dict[str, Any], denies: bool
) -> None:
    assert bool(insecure_transport_denials(doc({**TLS_DENY, **change}))) is denies
