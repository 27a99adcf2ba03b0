"""The AWS collectors against moto's HTTP server: seed the demo account, collect, inspect.

Everything goes through real boto3 clients over HTTP to 127.0.0.1; credentials come
from the standard chain (environment variables, or a shared credentials file).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assay.checks import Status, registry
from assay.checks.aws import AwsConnection, AwsTarget, connect, identity
from assay.checks.aws.reading import AccessDenied
from assay.checks.result import ERROR_KEY
from assay.demo.aws_account import DR_REGION, DemoAccount, seed
from assay.demo.aws_emulator import start_emulator
from assay.engine.cli.main import cli
from assay.testing import run_check

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TYPES = sorted(t for t, spec in registry.collectors().items() if spec.provider == "aws")


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
    assert found["regions"] == [REGION]


def test_collectors_yield_json_snapshots_with_arn_ids(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    assert set(collected) == set(seeded["resources"])
    for rtype, resources in collected.items():
        assert sorted(r["id"] for r in resources) == sorted(seeded["resources"][rtype]), rtype
        for r in resources:
            assert r["type"] == rtype
            assert r["id"].startswith("arn:aws:")
            assert r["scope"]["provider"] == "aws"
            assert r["scope"]["account"] == seeded["account"]
            # The DR replica bucket lives in another region.
            assert r["scope"]["region"] in (REGION, "global", DR_REGION)
            assert json.loads(json.dumps(r)) == r
            assert floats_in(r) == []


def test_buckets_carry_what_the_s3_checks_decide_on(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    buckets = {name: r["attributes"] for name, r in by_name(collected["aws.s3.bucket"]).items()}
    logs = buckets["assay-demo-audit-logs"]
    [rule] = logs["encryption"]["rules"]
    assert rule["algorithm"] == "aws:kms" and rule["bucket_key"] is True
    assert rule["kms_key_id"].startswith(f"arn:aws:kms:{REGION}:{seeded['account']}:key/")
    assert (logs["region"], logs["versioning"], logs["tags"]) == (
        REGION,
        "Enabled",
        {"data-class": "records", "dr": "critical"},
    )
    # Replication names the destination's own region, read from the destination bucket.
    assert logs["replication"] == [
        {
            "status": "Enabled",
            "destination_bucket": "assay-demo-audit-logs-dr",
            "destination_region": DR_REGION,
        }
    ]
    assert logs["policy"]["Statement"][0]["Sid"] == "DenyInsecureTransport"
    assert logs["logging"] == {"target_bucket": "assay-demo-access-logs", "target_prefix": "logs/"}
    account_flags = {
        "block_public_acls": True,
        "ignore_public_acls": False,
        "block_public_policy": True,
        "restrict_public_buckets": False,
    }
    reports = buckets["assay-demo-reports"]
    assert reports == {
        "region": REGION,
        "encryption": {"rules": [{"algorithm": "AES256", "kms_key_id": None, "bucket_key": False}]},
        "versioning": None,
        "tags": {"data-class": "records", "dr": "critical"},
        "policy": None,
        "acl_public_grants": [{"grantee": "AllUsers", "permission": "READ"}],
        "public_access_block": None,
        "account_public_access_block": account_flags,
        "logging": None,
        "replication": None,
    }
    # moto, unlike S3 since 2023, gives a new bucket no default encryption.
    scratch = buckets["assay-demo-scratch"]
    assert (scratch["encryption"], scratch["versioning"]) == (None, "Suspended")
    assert scratch["policy"]["Statement"][0]["Principal"] == "*"
    # The log-delivery group may write to the log bucket: not a public grant.
    assert buckets["assay-demo-access-logs"]["acl_public_grants"] == []
    [account] = collected["aws.s3.account"]
    assert account["attributes"] == {"public_access_block": account_flags}


def test_volumes_carry_encryption_size_state_and_attachments(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    volumes = by_name(collected["aws.ec2.volume"])
    data, root, cache = (volumes[n]["attributes"] for n in ("db-data", "app-root", "build-cache"))
    assert volumes["build-cache"]["id"] == seeded["waived_volume"]
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


def test_users_come_from_the_credential_report(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    users = {name: r["attributes"] for name, r in by_name(collected["aws.iam.user"]).items()}
    alice, bob, ci = users["alice"], users["bob"], users["ci-deployer"]
    assert (alice["password_enabled"], alice["mfa_active"]) == (True, True)
    assert (bob["password_enabled"], bob["mfa_active"], bob["access_keys"]) == (True, False, [])
    assert ci["password_enabled"] is False
    first, second = ci["access_keys"]
    assert (first["slot"], first["active"], first["last_used"]) == (1, True, None)
    assert (second["slot"], second["active"]) == (2, True)
    assert first["last_rotated"].endswith("Z") and alice["created"].endswith("Z")
    # Effective policies: the user's own, and those of its groups.
    assert [(p["policy"], p["via"]) for p in ci["policies"]] == [
        ("iam-ops", "group assay-demo-iam-ops")
    ]
    assert sorted((p["policy"], p["via"], p["arn"] is None) for p in alice["policies"]) == [
        ("assay-demo-read-reports", "attached", False),
        ("read-logs", "inline", True),
    ]
    [root] = collected["aws.iam.root_user"]
    assert root["attributes"] == {"mfa_enabled": False, "access_keys_present": False}


def test_policies_are_customer_managed_and_inline(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    policies = by_name(collected["aws.iam.policy"])
    admin = policies["assay-demo-admin"]
    assert admin["id"] == f"arn:aws:iam::{seeded['account']}:policy/assay-demo-admin"
    assert admin["attributes"]["kind"] == "managed"
    assert admin["attributes"]["document"]["Statement"][0]["Action"] == "*"
    assert policies["assay-demo-read-reports"]["attributes"]["attachment_count"] == 1
    inline = policies["bob/break-glass"]
    assert inline["id"] == f"arn:aws:iam::{seeded['account']}:user/bob#policy/break-glass"
    assert {k: v for k, v in inline["attributes"].items() if k != "document"} == {
        "kind": "inline",
        "principal": f"arn:aws:iam::{seeded['account']}:user/bob",
        "principal_type": "user",
    }


def test_kms_keys_ask_rotation_only_where_it_applies(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    keys = by_name(collected["aws.kms.key"])
    data = keys["alias/assay-demo-data"]["attributes"]
    assert (data["manager"], data["spec"], data["rotation_enabled"]) == (
        "CUSTOMER",
        "SYMMETRIC_DEFAULT",
        True,
    )
    others = [r["attributes"] for name, r in keys.items() if not name.startswith("alias/")]
    # The third symmetric key encrypts the trails and rotates.
    assert sorted((k["spec"], k["rotation_enabled"]) for k in others) == [
        ("ECC_NIST_P256", None),
        ("SYMMETRIC_DEFAULT", False),
        ("SYMMETRIC_DEFAULT", True),
    ]


def test_rds_instances_carry_their_parameter_groups_tls_setting(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    instances = {n: r["attributes"] for n, r in by_name(collected["aws.rds.instance"]).items()}
    orders, legacy = instances["assay-demo-orders"], instances["assay-demo-legacy"]
    assert orders["tls_parameter"] == {"name": "rds.force_ssl", "value": "1"}
    assert orders["parameter_group"] == "assay-demo-postgres16-tls"
    assert (orders["backup_retention_days"], orders["deletion_protection"]) == (7, True)
    # moto's default parameter groups hold no parameters.
    assert legacy["tls_parameter"] == {"name": "rds.force_ssl", "value": None}
    assert (legacy["storage_encrypted"], legacy["publicly_accessible"]) == (False, True)


def test_security_groups_trails_log_groups_and_regions(
    collected: dict[str, list[dict[str, Any]]], seeded: DemoAccount
) -> None:
    groups = by_name(collected["aws.ec2.security_group"])
    assert groups["assay-demo-admin"]["attributes"]["ingress"][0] == {
        "protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "ipv4": ["0.0.0.0/0"],
        "ipv6": [],
    }
    [trails] = collected["aws.cloudtrail.account"]
    found = {t["name"]: t for t in trails["attributes"]["trails"]}
    trail, stopped = found["assay-demo-trail"], found["assay-demo-stopped-trail"]
    assert (trail["multi_region"], trail["log_file_validation"], trail["logging"]) == (
        False,
        False,
        True,
    )
    assert (trail["kms_key_id"], trail["cloudwatch_logs_log_group_arn"]) == (None, None)
    assert (stopped["multi_region"], stopped["logging"]) == (True, False)
    assert stopped["kms_key_id"].startswith("arn:aws:kms:")
    # Each trail is also a resource of its own, scoped to its home region.
    each = by_name(collected["aws.cloudtrail.trail"])
    assert each["assay-demo-stopped-trail"]["id"] == stopped["arn"]
    assert each["assay-demo-stopped-trail"]["attributes"]["logging"] is False
    assert each["assay-demo-trail"]["scope"]["region"] == REGION
    log_groups = {n: r["attributes"] for n, r in by_name(collected["aws.logs.log_group"]).items()}
    assert log_groups["/assay-demo/audit"]["tags"] == {"data-class": "audit"}
    assert log_groups["/assay-demo/archive"]["retention_days"] is None
    [region] = collected["aws.ec2.region"]
    assert region["attributes"] == {"ebs_encryption_by_default": False}
    [guardduty] = collected["aws.guardduty.region"]
    assert guardduty["attributes"] == {"detector_id": None, "status": None}


def test_all_regions_are_the_enabled_ones(emulator: tuple[str, DemoAccount]) -> None:
    conn = connect(AwsTarget(endpoint_url=emulator[0], regions="all"), 10.0)
    regions = identity(conn)["regions"]
    assert REGION in regions and "eu-west-1" in regions
    # moto lists ap-east-1 (Hong Kong) as not opted in.
    assert "ap-east-1" not in regions
    found = list(registry.collectors()["aws.guardduty.region"].func(conn))
    assert sorted(r["name"] for r in found) == regions


AUDITOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            # Not s3:GetEncryptionConfiguration under any name moto has used for it
            # (s3:ListBucket before 5.2.5, s3:GetBucketEncryption since); nothing for EC2 or
            # IAM. Without the list calls, a collector fails; without a detail, the
            # attribute is a marker.
            "Action": [
                "s3:ListAllMyBuckets",
                # AWS authorises ListBuckets as s3:ListAllMyBuckets (what the collector
                # declares); moto since 5.2.5 authorises it by the operation's name.
                "s3:ListBuckets",
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
    return iam_user_profile(conn, aws_home, "auditor", json.dumps(AUDITOR_POLICY))


def iam_user_profile(conn: AwsConnection, aws_home: Path, user: str, policy: str) -> str:
    """A profile named `user` in the shared credentials file, for a new IAM user of that
    name whose one inline policy is the document `policy`."""
    iam = conn.client("iam")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="assay", PolicyDocument=policy)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with (aws_home / "credentials").open("a") as creds:
        creds.write(
            f"[{user}]\n"
            f"aws_access_key_id = {key['AccessKeyId']}\n"
            f"aws_secret_access_key = {key['SecretAccessKey']}\n"
        )
    return user


def emulator_profile(folder: Path, url: str, profile: str, controls: str = "") -> None:
    """An assay.yaml in `folder` whose one target is the emulator, reached as the
    credentials `profile`; `controls` is its controls line, if any."""
    (folder / "assay.yaml").write_text(
        controls + "targets:\n"
        f"  - {{name: emu, provider: aws, profile: {profile}, endpoint_url: '{url}',"
        f" regions: [{REGION}]}}\n"
    )


def test_denied_detail_reads_become_error_markers(
    emulator: tuple[str, DemoAccount],
    auditor_profile: str,
    iam_enforced: Callable[[str], AbstractContextManager[None]],
) -> None:
    url = emulator[0]
    denied = connect(AwsTarget(profile=auditor_profile, endpoint_url=url, regions=[REGION]), 10.0)
    with iam_enforced(url):
        assert identity(denied)["arn"].endswith(":user/auditor")
        buckets = by_name(list(registry.collectors()["aws.s3.bucket"].func(denied)))
        [policy] = registry.collectors()["aws.iam.password_policy"].func(denied)
        with pytest.raises(AccessDenied, match="missing permission ec2:DescribeVolumes"):
            list(registry.collectors()["aws.ec2.volume"].func(denied))
        everywhere = connect(
            AwsTarget(profile=auditor_profile, endpoint_url=url, regions="all"), 10.0
        )
        # Without the region list the target cannot be collected at all.
        with pytest.raises(AccessDenied, match="missing permission ec2:DescribeRegions"):
            identity(everywhere)

    assert len(buckets) == 5
    for bucket in buckets.values():
        marker = bucket["attributes"]["encryption"][ERROR_KEY]
        assert marker["code"] == "AccessDenied"
        assert marker["permission"] == "s3:GetEncryptionConfiguration"
        assert bucket["attributes"]["region"] in (REGION, DR_REGION)
    assert buckets["assay-demo-audit-logs"]["attributes"]["versioning"] == "Enabled"
    result = run_check("aws.s3.default_encryption", buckets["assay-demo-audit-logs"])
    assert result.status is Status.ERROR
    assert "missing permission s3:GetEncryptionConfiguration" in result.reason

    assert policy["attributes"]["present"][ERROR_KEY]["permission"] == (
        "iam:GetAccountPasswordPolicy"
    )
    assert run_check("aws.iam.password_policy", policy).status is Status.ERROR


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
        "regions": ["eu-west-1"],
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
    iam_enforced: Callable[[str], AbstractContextManager[None]],
) -> None:
    url = emulator[0]
    monkeypatch.chdir(tmp_path)
    emulator_profile(tmp_path, url, auditor_profile)
    with iam_enforced(url):
        res = CliRunner().invoke(cli, ["doctor", "--timeout", "20"])
    assert res.exit_code == 3, res.output
    assert "✓ emu (aws): connected as account=" in res.output
    assert "✗ emu: aws.s3.bucket.encryption: missing s3:GetEncryptionConfiguration" in res.output
    assert "✗ emu: aws.iam.password_policy.present: missing iam:GetAccountPasswordPolicy" in (
        res.output
    )
    assert "✗ emu: aws.ec2.volume: collecting aws.ec2.volume failed:" in res.output
    assert "ec2:DescribeVolumes" in res.output


def test_a_run_reads_only_what_its_controls_need(
    emulator: tuple[str, DemoAccount],
    conn: AwsConnection,
    aws_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    iam_enforced: Callable[[str], AbstractContextManager[None]],
) -> None:
    """A principal granted exactly what `assay checks permissions` prints for one control
    can collect for it: the attributes other controls read (a Performance Insights key's
    kms:DescribeKey, beside the RDS TLS setting) are left uncollected, not denied."""
    url = emulator[0]
    monkeypatch.chdir(tmp_path)
    emulator_profile(tmp_path, url, "narrow", "controls: {ids: [aws-rds-force-ssl]}\n")
    printed = CliRunner().invoke(cli, ["checks", "permissions", "--provider", "aws"])
    assert printed.exit_code == 0, printed.output
    policy = json.loads(printed.output)
    assert "kms:DescribeKey" not in policy["Statement"][0]["Action"]
    iam_user_profile(conn, aws_home, "narrow", printed.output)
    with iam_enforced(url):
        res = CliRunner().invoke(cli, ["doctor", "--timeout", "20"])
    assert res.exit_code == 0, res.output
    assert "all targets reachable with the permissions the controls need" in res.output
