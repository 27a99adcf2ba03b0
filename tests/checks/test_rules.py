"""The declarative rule language: operators, combinators, error markers, compile errors."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import jmespath
import pytest
import yaml

from assay.checks import Result, RuleError, Status, collection_error, compile_rule

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DENIED = collection_error("AccessDenied", "Access Denied", "s3:GetEncryptionConfiguration")
DENIED_REASON = "AccessDenied: Access Denied (missing permission s3:GetEncryptionConfiguration)"

BRIEF_RULE = """
all:
  - {path: "encryption.rules[0].algorithm", in: ["aws:kms", "AES256"]}
  - any:
      - {path: versioning, eq: Enabled}
      - not: {path: "tags.records", exists: true}
"""


def bucket(**attributes: Any) -> dict[str, Any]:
    return {
        "type": "aws.s3.bucket",
        "id": "arn:aws:s3:::logs",
        "name": "logs",
        "scope": {"provider": "aws", "account": "123456789012", "region": "us-east-1"},
        "attributes": attributes,
    }


def run(spec: dict[str, Any], now: datetime | None = NOW, **attributes: Any) -> Result:
    return compile_rule(spec)(bucket(**attributes), now=now)


def shown(value: Any) -> str:
    """How a reason shows an observed value."""
    return "not set" if value is None else json.dumps(value)


def compile_error(spec: Any) -> RuleError:
    with pytest.raises(RuleError) as info:
        compile_rule(spec)
    return info.value


# --- operators --------------------------------------------------------------------------

# op, operand, an observed value that passes, one that fails, the expectation when it fails
OPERATOR_CASES = [
    ("eq", "Enabled", "Enabled", "Suspended", 'expected "Enabled"'),
    ("eq", True, True, 1, "expected true"),
    ("eq", 1, 1, True, "expected 1"),
    ("eq", {"a": [1, True]}, {"a": [1, True]}, {"a": [1, 1]}, 'expected {"a": [1, true]}'),
    ("eq", None, None, "x", "expected null"),
    ("ne", "Disabled", "Enabled", "Disabled", 'expected anything but "Disabled"'),
    ("ne", 0, False, 0, "expected anything but 0"),
    ("in", ["aws:kms", "AES256"], "AES256", "none", 'expected one of ["aws:kms", "AES256"]'),
    ("in", [1, "a", None], None, True, 'expected one of [1, "a", null]'),
    ("not_in", ["ap-east-1"], "us-east-1", "ap-east-1", 'expected none of ["ap-east-1"]'),
    ("not_in", [False], 0, False, "expected none of [false]"),
    ("gt", 5, 6, 5, "expected > 5"),
    ("gte", 5, 5, 4, "expected >= 5"),
    ("lt", 5, 4, 5, "expected < 5"),
    ("lte", -1, -1, 0, "expected <= -1"),
    ("exists", True, "", None, "expected it to exist"),
    ("exists", True, [], None, "expected it to exist"),
    ("exists", False, None, 0, "expected it to be absent"),
    ("absent", True, None, False, "expected it to be absent"),
    ("absent", False, {}, None, "expected it to exist"),
    ("contains", "prod", ["prod", "app"], ["dev"], 'expected it to contain "prod"'),
    ("contains", "prod", "eu-prod-1", "eu-dev-1", 'expected it to contain "prod"'),
    ("contains", {"Key": "env"}, [{"Key": "env"}], [{"Key": "app"}], "expected it to contain"),
    ("contains", 1, [2, 1], [True], "expected it to contain 1"),
    ("regex", "^team-", "team-7", "ops-team-7", 'expected it to match "^team-"'),
    ("age_days_lte", 90, "2025-03-03T12:00:00Z", "2025-03-03T11:59:59Z", "it is 90 days old"),
]


@pytest.mark.parametrize(("op", "operand", "good", "bad", "expected"), OPERATOR_CASES)
def test_each_operator_passes_and_fails(
    op: str, operand: Any, good: Any, bad: Any, expected: str
) -> None:
    spec = {"path": "value", op: operand}

    passed = run(spec, value=good)
    assert passed.status is Status.PASS, passed.reason
    assert passed.reason == f"value {op} {json.dumps(operand)} (observed {json.dumps(good)})"
    assert passed.observed == {"value": good}

    failed = run(spec, value=bad)
    assert failed.status is Status.FAIL, failed.reason
    assert failed.reason.startswith(f"value is {shown(bad)}, ")
    assert expected in failed.reason
    assert failed.observed == {"value": bad}


def test_missing_key_reads_as_null() -> None:
    assert run({"path": "tags.owner", "exists": True}, tags={}).reason == (
        "tags.owner is not set, expected it to exist"
    )
    assert run({"path": "tags.owner", "absent": True}).status is Status.PASS
    assert run({"path": "nothing[3].here", "eq": None}).status is Status.PASS


def test_fail_reason_names_path_expectation_and_observed() -> None:
    result = run(
        {"path": "encryption.rules[0].algorithm", "in": ["aws:kms", "AES256"]},
        encryption={"rules": [{"algorithm": None}]},
    )
    assert result.status is Status.FAIL
    assert result.reason == (
        'encryption.rules[0].algorithm is not set, expected one of ["aws:kms", "AES256"]'
    )
    assert result.observed == {"encryption.rules[0].algorithm": None}


@pytest.mark.parametrize(
    ("observed", "kind"),
    [("90", "a string"), (None, "null"), (True, "a boolean"), ([1], "a list"), ({}, "an object")],
)
@pytest.mark.parametrize(("op", "symbol"), [("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")])
def test_comparison_on_a_non_number_fails_naming_the_type(
    op: str, symbol: str, observed: Any, kind: str
) -> None:
    result = run({"path": "retention_days", op: 30}, retention_days=observed)
    assert result.status is Status.FAIL
    assert result.reason == (
        f"retention_days is {shown(observed)}, expected a number {symbol} 30, got {kind}"
    )


@pytest.mark.parametrize(
    ("spec", "observed", "reason"),
    [
        ({"contains": "x"}, 5, 'expected a list or string containing "x", got a number'),
        ({"contains": 5}, "5", "expected a list containing 5, got a string"),
        ({"regex": "^a"}, ["a"], 'expected a string matching "^a", got a list'),
        ({"age_days_lte": 1}, 1717200000, "at most 1 day old, got a number"),
        ({"age_days_lte": 1}, "yesterday", "got a string that is not one"),
        ({"age_days_lte": 1}, "2025-06-01T00:00:00", "got one without a UTC offset"),
    ],
)
def test_wrong_observed_type_fails_with_a_reason(
    spec: dict[str, Any], observed: Any, reason: str
) -> None:
    result = run({"path": "value", **spec}, value=observed)
    assert result.status is Status.FAIL
    assert result.reason.endswith(reason)


def test_age_days_lte_with_offsets_and_future_timestamps() -> None:
    rule = {"path": "rotated", "age_days_lte": 1}
    assert run(rule, rotated="2025-05-31T14:00:00+02:00").status is Status.PASS  # exactly 1 day
    assert run(rule, rotated="2025-05-31T13:59:59+02:00").status is Status.FAIL
    assert run(rule, rotated="2025-05-31T12:00:00.000001Z").status is Status.PASS
    assert run(rule, rotated="2026-01-01T00:00:00Z").status is Status.PASS  # clock skew
    old = run(rule, rotated="2024-06-01T12:00:00Z")
    assert old.reason == (
        'rotated is "2024-06-01T12:00:00Z", '
        "expected an RFC 3339 timestamp at most 1 day old, it is 365 days old"
    )


def test_age_days_lte_defaults_now_to_the_current_time() -> None:
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    stale = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert run({"path": "t", "age_days_lte": 1}, now=None, t=recent).status is Status.PASS
    assert run({"path": "t", "age_days_lte": 1}, now=None, t=stale).status is Status.FAIL


def test_a_naive_now_is_refused() -> None:
    rule = compile_rule({"path": "t", "age_days_lte": 1})
    with pytest.raises(ValueError, match="timezone-aware"):
        rule(bucket(t="2025-06-01T00:00:00Z"), now=datetime(2025, 6, 1))


def test_long_observed_values_are_shortened_in_reasons() -> None:
    result = run({"path": "policy", "eq": "x"}, policy="p" * 1000)
    assert result.status is Status.FAIL
    assert len(result.reason) < 200
    assert result.observed == {"policy": "p" * 1000}


# --- paths ------------------------------------------------------------------------------

DOCUMENTS = [
    {"a": {"b": [{"c": 1}, {"c": [7, 8]}], "quoted key": {"x": "y"}}, "s": "text"},
    {"a": [{"b": 1}, [2, 3]], "s": ["t"]},
    {"a": {"b": "not a list"}, "s": None},
    {"a": None},
    {},
]
CHAINS = ["a", "a.b", "a.b[0].c", "a.b[-1].c[1]", "a.b[5]", "a[0]", "a[1][0]", "a[-3]", "s[0]"]
CHAINS += ['a."quoted key".x', "s.length"]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("path", CHAINS)
def test_plain_paths_read_what_jmespath_reads(path: str, document: dict[str, Any]) -> None:
    result = compile_rule({"path": path, "exists": True})(bucket(**document), now=NOW)
    assert result.observed == {path: jmespath.search(path, document)}


def test_full_jmespath_expressions() -> None:
    tags = [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops"}]
    assert run({"path": "tags[?Key=='env'].Value | [0]", "eq": "prod"}, tags=tags).passed
    assert run({"path": "length(tags)", "gte": 2}, tags=tags).status is Status.PASS
    assert run({"path": "tags[*].Key", "contains": "owner"}, tags=tags).status is Status.PASS


def test_floats_from_jmespath_functions_compare_as_numbers_but_are_not_recorded() -> None:
    result = run({"path": "avg(sizes)", "gt": 2}, sizes=[2, 3])
    assert result.status is Status.PASS
    assert result.observed == {"avg(sizes)": "2.5"}
    assert run({"path": "avg(sizes)", "eq": 2}, sizes=[2, 2]).observed == {"avg(sizes)": 2}


def test_a_jmespath_type_error_is_an_error_not_a_failure() -> None:
    result = run({"path": "length(count)", "gt": 0}, count=3)
    assert result.status is Status.ERROR
    assert result.reason.startswith("length(count) could not be evaluated: ")
    assert "number" in result.reason


def test_paths_lists_each_path_once_in_order() -> None:
    rule = compile_rule(yaml.safe_load(BRIEF_RULE + "  - {path: versioning, ne: Suspended}\n"))
    assert rule.paths == ("encryption.rules[0].algorithm", "versioning", "tags.records")


# --- combinators ------------------------------------------------------------------------

KMS = {"rules": [{"algorithm": "aws:kms"}]}


def test_the_briefs_rule_from_yaml() -> None:
    rule = compile_rule(yaml.safe_load(BRIEF_RULE))

    ok = rule(bucket(encryption=KMS, versioning="Enabled"), now=NOW)
    assert (ok.status, ok.reason) == (Status.PASS, "all 2 conditions hold")
    assert ok.observed == {"encryption.rules[0].algorithm": "aws:kms", "versioning": "Enabled"}

    untagged = rule(bucket(encryption=KMS, versioning="Suspended", tags={}), now=NOW)
    assert untagged.status is Status.PASS
    assert untagged.observed["tags.records"] is None

    bad = rule(bucket(encryption=KMS, versioning="Suspended", tags={"records": 3}), now=NOW)
    assert bad.status is Status.FAIL
    assert bad.reason == (
        'none of 2 conditions holds; first: versioning is "Suspended", expected "Enabled"'
    )
    assert bad.observed == {
        "encryption.rules[0].algorithm": "aws:kms",
        "versioning": "Suspended",
        "tags.records": 3,
    }


def test_all_stops_at_the_first_failure() -> None:
    result = run(
        {"all": [{"path": "a", "eq": 1}, {"path": "b", "eq": 2}, {"path": "c", "eq": 3}]},
        a=1,
        b=0,
        c=3,
    )
    assert (result.status, result.reason) == (Status.FAIL, "b is 0, expected 2")
    assert result.observed == {"a": 1, "b": 0}


def test_any_passes_on_the_first_condition_that_holds() -> None:
    result = run({"any": [{"path": "a", "eq": 9}, {"path": "b", "eq": 2}]}, a=1, b=2)
    assert result.status is Status.PASS
    assert result.reason == "at least one of 2 conditions holds: b eq 2 (observed 2)"


def test_not_inverts_and_says_so() -> None:
    spec = {"not": {"path": "public", "eq": True}}
    held = run(spec, public=True)
    assert (held.status, held.reason) == (
        Status.FAIL,
        "negated condition holds: public eq true (observed true)",
    )
    private = run(spec, public=False)
    assert (private.status, private.reason) == (
        Status.PASS,
        "negated condition does not hold: public is false, expected true",
    )


def test_nested_combinators() -> None:
    spec = {
        "any": [
            {"all": [{"path": "a", "gt": 0}, {"not": {"any": [{"path": "b", "eq": "x"}]}}]},
            {"path": "c", "exists": True},
        ]
    }
    assert run(spec, a=1, b="y").status is Status.PASS
    assert run(spec, a=1, b="x").status is Status.FAIL
    assert run(spec, a=1, b="x", c=0).status is Status.PASS
    assert run({"not": {"not": {"path": "a", "eq": 1}}}, a=1).status is Status.PASS


# --- collection-error markers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "attributes"),
    [
        ("encryption.rules[0].algorithm", {"encryption": DENIED}),
        ("encryption.rules[0].algorithm", {"encryption": {"rules": DENIED}}),
        ("encryption.rules[0].algorithm", {"encryption": {"rules": [DENIED]}}),
        ("encryption", {"encryption": DENIED}),
        ("encryption.rules[*].algorithm", {"encryption": DENIED}),
        ("encryption.rules[*].algorithm", {"encryption": {"rules": [KMS["rules"][0], DENIED]}}),
        ("encryption.rules[*]", {"encryption": {"rules": [DENIED]}}),
        ("encryption.rules[]", {"encryption": {"rules": [DENIED]}}),
        ("encryption.rules[?algorithm=='aws:kms']", {"encryption": {"rules": [DENIED]}}),
        ("length(encryption.rules)", {"encryption": DENIED}),
        ("values(@)", {"encryption": DENIED}),
    ],
)
@pytest.mark.parametrize(
    "check",
    [{"exists": True}, {"absent": True}, {"eq": None}, {"ne": None}, {"contains": "aws:kms"}],
)
def test_a_marker_on_the_path_makes_the_result_error(
    path: str, attributes: dict[str, Any], check: dict[str, Any]
) -> None:
    for spec in ({"path": path, **check}, {"not": {"path": path, **check}}):
        result = run(spec, **attributes)
        assert result.status is Status.ERROR
        assert result.reason == f"{path} could not be collected: {DENIED_REASON}"
        assert result.observed == {path: DENIED}


@pytest.mark.parametrize("reverse", [False, True])
def test_combinators_decide_without_the_unknown_when_they_can(reverse: bool) -> None:
    def check(spec: str, expected: Status) -> None:
        node = yaml.safe_load(spec)
        if reverse:
            node[next(iter(node))].reverse()
        result = run(node, enc=DENIED, ok="yes")
        assert result.status is expected, result.reason

    check("all: [{path: enc.x, eq: 1}, {path: ok, eq: 'no'}]", Status.FAIL)
    check("all: [{path: enc.x, eq: 1}, {path: ok, eq: 'yes'}]", Status.ERROR)
    check("any: [{path: enc.x, eq: 1}, {path: ok, eq: 'yes'}]", Status.PASS)
    check("any: [{path: enc.x, eq: 1}, {path: ok, eq: 'no'}]", Status.ERROR)


def test_an_error_keeps_its_reason_through_combinators() -> None:
    spec = {"all": [{"path": "ok", "eq": "yes"}, {"not": {"path": "enc.x", "eq": 1}}]}
    result = run(spec, enc=DENIED, ok="yes")
    assert result.status is Status.ERROR
    assert result.reason == f"enc.x could not be collected: {DENIED_REASON}"
    assert result.observed == {"ok": "yes", "enc.x": DENIED}


# --- compile errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "location", "message"),
    [
        (
            {"all": [{"path": "a", "equals": 1}]},
            ("all", 0, "equals"),
            "unknown operator 'equals'; expected one of eq, ne, in, not_in, gt, gte, lt, lte, "
            "exists, absent, contains, regex, age_days_lte",
        ),
        (
            {"path": "a", "eq": 1, "in": [1]},
            (),
            "predicate has 2 operators (eq, in); expected exactly one",
        ),
        ({"path": "a"}, (), "predicate has no operator; expected one of eq, ne"),
        ({"any": [{"eq": 1}]}, ("any", 0), "predicate with operator 'eq' has no 'path'"),
        ({"all": []}, ("all",), "'all' must be a non-empty list of conditions, got []"),
        ({"any": []}, ("any",), "'any' must be a non-empty list of conditions"),
        ({"all": {"path": "a", "eq": 1}}, ("all",), "'all' must be a non-empty list"),
        ({"not": [{"path": "a", "eq": 1}]}, ("not",), "expected a mapping"),
        ({"all": [{"path": "a", "eq": 1}], "any": [{"path": "a", "eq": 1}]}, (), "exactly one key"),
        ({"alll": []}, ("alll",), "unknown key 'alll'; expected all, any, not, or a predicate"),
        ({}, (), "empty node"),
        ({"all": ["versioning"]}, ("all", 0), "expected a mapping (all, any, not"),
        ({"path": "a[", "eq": 1}, ("path",), "invalid JMESPath 'a[': "),
        ({"path": "a..b", "eq": 1}, ("path",), "invalid JMESPath 'a..b': Expecting:"),
        ({"path": "lenght(a)", "eq": 1}, ("path",), "unknown function lenght()"),
        ({"path": "length(a, b)", "eq": 1}, ("path",), "length() takes 1 argument(s), got 2"),
        ({"path": "", "eq": 1}, ("path",), "expected a JMESPath expression string"),
        ({"path": 3, "eq": 1}, ("path",), "expected a JMESPath expression string, got 3"),
        (
            {"all": [{"path": "a", "eq": 1}, {"path": "b", "regex": "(unclosed"}]},
            ("all", 1, "regex"),
            'bad regex "(unclosed": missing ), unterminated subpattern',
        ),
        ({"path": "a", "regex": 5}, ("regex",), "expected a regular expression string"),
        ({"path": "a", "gt": "5"}, ("gt",), 'expected an integer, got "5"'),
        ({"path": "a", "lte": 1.5}, ("lte",), "expected an integer, got 1.5"),
        ({"path": "a", "gte": True}, ("gte",), "expected an integer, got true"),
        (
            {"path": "a", "eq": 1.5},
            ("eq",),
            "expected an integer, got 1.5 (records hold no floats)",
        ),
        ({"path": "a", "contains": [1, [2.5]]}, ("contains", 1, 0), "got 2.5"),
        ({"path": "a", "in": "aws:kms"}, ("in",), 'expected a non-empty list, got "aws:kms"'),
        ({"path": "a", "not_in": []}, ("not_in",), "expected a non-empty list, got []"),
        ({"path": "a", "exists": "yes"}, ("exists",), 'expected true or false, got "yes"'),
        ({"path": "a", "absent": 1}, ("absent",), "expected true or false, got 1"),
        ({"path": "a", "age_days_lte": -1}, ("age_days_lte",), "days >= 0, got -1"),
        ({"path": "a", "age_days_lte": "90"}, ("age_days_lte",), 'days >= 0, got "90"'),
    ],
)
def test_compile_errors_say_where_and_what_was_expected(
    spec: Any, location: tuple[str | int, ...], message: str
) -> None:
    err = compile_error(spec)
    assert err.location == location
    assert message in err.message


def test_rule_error_text_includes_the_location() -> None:
    err = compile_error({"all": [{"path": "a", "eq": 1}, {"path": "b", "regex": "["}]})
    assert str(err).startswith('rule.all[1].regex: bad regex "[": ')
    assert str(compile_error({"all": []})) == (
        "rule.all: 'all' must be a non-empty list of conditions, got []"
    )
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.location, copy.message) == (err.location, err.message)


def test_a_top_level_list_is_refused() -> None:
    err = compile_error([{"path": "a", "eq": 1}])
    assert (err.location, str(err)) == (
        (),
        "rule: expected a mapping (all, any, not, or a predicate with 'path'), got a list",
    )


def test_unquoted_yaml_dates_are_refused_as_operands() -> None:
    err = compile_error(yaml.safe_load("{path: created, eq: 2024-01-01}"))
    assert err.location == ("eq",)
    assert "got date datetime.date(2024, 1, 1) (quote dates and times)" in err.message


def test_ages_are_measured_when_the_snapshot_was_collected() -> None:
    rule = compile_rule({"path": "rotated", "age_days_lte": 90})
    resource = bucket(rotated="2025-01-01T00:00:00Z")
    resource["collected_at"] = "2025-03-01T00:00:00Z"  # 59 days later
    replayed_a_year_on = datetime(2026, 3, 1, tzinfo=UTC)
    assert rule(resource, now=replayed_a_year_on).status is Status.PASS
    del resource["collected_at"]
    result = rule(resource, now=replayed_a_year_on)
    assert result.status is Status.FAIL and "it is 424 days old" in result.reason
