"""The AWS provider against moto's HTTP server: seed the demo account, collect, judge.

Everything goes through real boto3 clients over HTTP to 127.0.0.1; credentials come
from the standard chain (environment variables, or a shared credentials file).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from click.testing import CliRunner

from assay.checks import Result, Status, compile_rule, registry
from assay.checks.aws import AwsConnection, AwsTarget, connect, identity
from assay.checks.aws.api import DENIED_CODES, error_code
from assay.checks.result import ERROR_KEY
from assay.controls import catalog_root
from assay.engine.cli import cli
from assay.engine.demo_account import DemoAccount, seed, start_emulator
from assay.testing import run_check

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TYPES = ("aws.s3.bucket", "aws.ec2.volume", "aws.iam.password_policy")


@pytest.fixture(scope="module")
def aws_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The standard credential chain, pointed away from the developer's own AWS setup."""
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
            "AWS_ENDPOINT_URL",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        yield home


# Module scope rather than session: moto's state is per process, so the emulator must be
# gone before another test module starts its own.
@pytest.fixture(scope="module")
def emulator(aws_home: Path) -> Iterator[tuple[str, DemoAccount]]:
    with start_emulator() as url:
        yield url, seed(url, REGION)


@pytest.fixture(scope="module")
def conn(emulator: tuple[str, DemoAccount]) -> AwsConnection:
    return connect(AwsTarget(endpoint_url=emulator[0], regions=[REGION]), 10.0)


@pytest.fixture(scope="module")
def seeded(emulator: tuple[str, DemoAccount]) -> DemoAccount:
    return emulator[1]


@pytest.fixture(scope="module")
def collected(conn: AwsConnection) -> dict[str, list[dict[str, Any]]]:
    return {rtype: list(registry.collectors()[rtype].func(conn)) for rtype in TYPES}


def by_name(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources}


def floats_in(value: Any) -> list[Any]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


def test_identity_is_the_seeded_account(conn: AwsConnection, seeded: DemoAccount) -> None:
    found = identity(conn)
    assert found["account"] == seeded["account"]
    assert found["arn"].startswith(f"arn:aws:sts::{seeded['account']}:")


def test_collectors_yield_json_snapshots_with_arn_ids(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    for rtype, resources in collected.items():
        assert sorted(r["id"] for r in resources) == sorted(seeded["resources"][rtype])
        for r in resources:
            assert r["type"] == rtype
            assert r["id"].startswith("arn:aws:")
            assert r["scope"]["provider"] == "aws"
            assert r["scope"]["account"] == seeded["account"]
            assert json.loads(json.dumps(r)) == r
            assert floats_in(r) == []


def test_buckets_carry_region_encryption_versioning_and_tags(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    buckets = by_name(collected["aws.s3.bucket"])
    logs = buckets["assay-demo-audit-logs"]
    assert logs["id"] == "arn:aws:s3:::assay-demo-audit-logs"
    assert logs["scope"]["region"] == REGION
    [rule] = logs["attributes"]["encryption"]["rules"]
    assert rule["algorithm"] == "aws:kms"
    assert rule["kms_key_id"].startswith(f"arn:aws:kms:{REGION}:{seeded['account']}:key/")
    assert rule["bucket_key"] is True
    assert logs["attributes"]["versioning"] == "Enabled"
    assert logs["attributes"]["tags"] == {"owner": "security", "data": "logs"}
    assert buckets["assay-demo-reports"]["attributes"] == {
        "region": REGION,
        "encryption": {"rules": [{"algorithm": "AES256", "kms_key_id": None, "bucket_key": False}]},
        "versioning": None,
        "tags": {},
    }
    # moto, unlike S3 since 2023, gives a new bucket no default encryption.
    assert buckets["assay-demo-scratch"]["attributes"] == {
        "region": REGION,
        "encryption": None,
        "versioning": "Suspended",
        "tags": {},
    }


def test_volumes_carry_encryption_size_state_and_attachments(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    volumes = by_name(collected["aws.ec2.volume"])
    data, root, cache = (volumes[n]["attributes"] for n in ("db-data", "app-root", "build-cache"))
    assert volumes["build-cache"]["id"] == seeded["waived_volume"]
    assert volumes["db-data"]["id"].startswith(
        f"arn:aws:ec2:{REGION}:{seeded['account']}:volume/vol-"
    )
    assert data["encrypted"] is True
    assert data["kms_key_id"].startswith(f"arn:aws:kms:{REGION}:")
    assert (data["size_gib"], data["state"], data["tags"]) == (100, "in-use", {"Name": "db-data"})
    assert root["encrypted"] is False and root["kms_key_id"] is None
    [instance] = root["attachments"]
    assert instance.startswith("i-") and data["attachments"] == [instance]
    assert cache == {
        "encrypted": False,
        "kms_key_id": None,
        "size_gib": 50,
        "state": "available",
        "attachments": [],
        "tags": {"Name": "build-cache"},
    }


def test_password_policy_fields_are_snake_case(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    [policy] = collected["aws.iam.password_policy"]
    assert policy["id"] == f"arn:aws:iam::{seeded['account']}:account-password-policy"
    assert policy["attributes"] == {
        "present": True,
        "minimum_password_length": 8,
        "require_symbols": False,
        "require_numbers": True,
        "require_uppercase_characters": True,
        "require_lowercase_characters": True,
        "allow_users_to_change_password": True,
        "expire_passwords": True,
        "max_password_age": 90,
        "password_reuse_prevention": 24,
        "hard_expiry": False,
    }


def verdicts(control_id: str, resources: list[dict[str, Any]]) -> dict[str, Result]:
    """Judge `resources` by the shipped control file, as its check or rule says."""
    raw = yaml.safe_load(catalog_root().joinpath("aws", f"{control_id}.yaml").read_text())
    if "rule" in raw:
        rule = compile_rule(raw["rule"])
        return {r["id"]: rule(r) for r in resources}
    spec = registry.get_check(raw["check"])
    params = spec.params.model_validate(raw.get("params", {}))
    return {r["id"]: spec.func(r, params) for r in resources}


def test_verdicts_are_the_ones_the_seed_expects(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    controls = {p.stem for p in catalog_root().joinpath("aws").iterdir()}
    assert set(seeded["expected"]) == controls
    for control_id, expected in seeded["expected"].items():
        rtype = yaml.safe_load(catalog_root().joinpath("aws", f"{control_id}.yaml").read_text())[
            "resource"
        ]
        got = verdicts(control_id, collected[rtype])
        assert {rid: r.status.value for rid, r in got.items()} == expected, control_id
    policy = next(
        iter(verdicts("aws-iam-password-policy", collected["aws.iam.password_policy"]).values())
    )
    assert policy.observed == {"minimum_password_length": 8, "require_symbols": False}


def set_auth(url: str, free_requests: str) -> None:
    """moto's switch for IAM enforcement: after `free_requests` requests, every call is checked."""
    # Not form-encoded (urllib's default), or the server would parse the body away.
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=free_requests.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


AUDITOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            # Not s3:GetEncryptionConfiguration, nor s3:ListBucket (moto authorises
            # GetBucketEncryption as s3:ListBucket); nothing for EC2 or IAM.
            "Action": [
                "s3:ListAllMyBuckets",
                "s3:GetBucketLocation",
                "s3:GetBucketVersioning",
                "s3:GetBucketTagging",
            ],
            "Resource": "*",
        }
    ],
}


@pytest.fixture(scope="module")
def auditor_profile(emulator: tuple[str, DemoAccount], conn: AwsConnection, aws_home: Path) -> str:
    """A profile in the shared credentials file for an IAM user with AUDITOR_POLICY."""
    iam = conn.client("iam")
    iam.create_user(UserName="auditor")
    iam.put_user_policy(
        UserName="auditor", PolicyName="audit", PolicyDocument=json.dumps(AUDITOR_POLICY)
    )
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    (aws_home / "credentials").write_text(
        "[auditor]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    return "auditor"


def test_denied_detail_reads_become_error_markers(
    emulator: tuple[str, DemoAccount], auditor_profile: str
) -> None:
    url = emulator[0]
    denied = connect(AwsTarget(profile=auditor_profile, endpoint_url=url, regions=[REGION]), 10.0)
    set_auth(url, "0")
    try:
        assert identity(denied)["arn"].endswith(":user/auditor")
        buckets = by_name(list(registry.collectors()["aws.s3.bucket"].func(denied)))
        [policy] = registry.collectors()["aws.iam.password_policy"].func(denied)
        with pytest.raises(ClientError) as list_denied:
            list(registry.collectors()["aws.ec2.volume"].func(denied))
    finally:
        set_auth(url, "inf")

    assert len(buckets) == 3
    for bucket in buckets.values():
        marker = bucket["attributes"]["encryption"][ERROR_KEY]
        assert marker["code"] == "AccessDenied"
        assert marker["permission"] == "s3:GetEncryptionConfiguration"
        assert bucket["attributes"]["region"] == REGION
    assert buckets["assay-demo-audit-logs"]["attributes"]["versioning"] == "Enabled"
    result = run_check("aws.s3.default_encryption", buckets["assay-demo-audit-logs"])
    assert result.status is Status.ERROR
    assert "missing permission s3:GetEncryptionConfiguration" in result.reason

    assert policy["attributes"]["present"][ERROR_KEY]["permission"] == (
        "iam:GetAccountPasswordPolicy"
    )
    assert run_check("aws.iam.password_policy", policy).status is Status.ERROR
    # Without the list there is nothing to judge: the collector fails, as a whole.
    assert error_code(list_denied.value) in DENIED_CODES


def test_assume_role_collects_from_the_roles_account(emulator: tuple[str, DemoAccount]) -> None:
    role = "arn:aws:iam::111122223333:role/assay-auditor"
    other = connect(
        AwsTarget(
            role_arn=role, external_id="assay-ext", endpoint_url=emulator[0], regions=["eu-west-1"]
        ),
        10.0,
    )
    assert identity(other) == {
        "account": "111122223333",
        "arn": "arn:aws:sts::111122223333:assumed-role/assay-auditor/assay",
    }
    other.client("s3").create_bucket(
        Bucket="assay-other-account",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    [bucket] = registry.collectors()["aws.s3.bucket"].func(other)
    assert bucket["id"] == "arn:aws:s3:::assay-other-account"
    assert bucket["scope"] == {"provider": "aws", "account": "111122223333", "region": "eu-west-1"}
    assert bucket["attributes"]["region"] == "eu-west-1"
    [policy] = registry.collectors()["aws.iam.password_policy"].func(other)
    assert policy["attributes"] == {"present": False}
    assert run_check("aws.iam.password_policy", policy).status is Status.FAIL


def test_a_second_emulator_in_the_process_is_refused(emulator: tuple[str, DemoAccount]) -> None:
    with pytest.raises(RuntimeError, match="already running"), start_emulator():
        pass


def test_doctor_names_each_missing_permission(
    emulator: tuple[str, DemoAccount],
    auditor_profile: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = emulator[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assay.yaml").write_text(
        "targets:\n"
        f"  - {{name: emu, provider: aws, profile: {auditor_profile}, endpoint_url: '{url}',"
        f" regions: [{REGION}]}}\n"
    )
    set_auth(url, "0")
    try:
        res = CliRunner().invoke(cli, ["doctor", "--timeout", "20"])
    finally:
        set_auth(url, "inf")
    assert res.exit_code == 3, res.output
    assert "✓ emu (aws): connected as account=" in res.output
    assert "✗ emu: aws.s3.bucket.encryption: missing s3:GetEncryptionConfiguration" in res.output
    assert "✗ emu: aws.iam.password_policy.present: missing iam:GetAccountPasswordPolicy" in (
        res.output
    )
    assert "✗ emu: aws.ec2.volume: collecting aws.ec2.volume failed:" in res.output
    assert "ec2:DescribeVolumes" in res.output
