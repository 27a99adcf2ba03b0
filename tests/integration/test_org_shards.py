"""An AWS Organization of 8 member accounts x 2 regions on one moto server, audited by 4
shard processes into one PostgreSQL ledger, against one unsharded process.

moto serves several accounts: keys it did not issue act in the management account
(123456789012), which creates the organisation; assuming a role in a member's account
gives keys that act in that account. The server runs in its own process (the shards
are processes of their own too), its log drained so it never blocks.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import boto3
import pytest

from assay.checks.aws.provider import AwsTarget
from assay.demo.aws_account import seed
from assay.demo.aws_emulator import emulator_process
from assay.engine.changes import run_index
from assay.engine.sharded import UNIT_FINISHED
from assay.evidence import open_ledger

pytestmark = pytest.mark.integration

REGIONS = ("us-east-1", "eu-west-1")
MEMBERS = 8
ROLE = "assay-auditor"
EXTERNAL_ID = "assay-nightly-7f3c"
CONTROLS = (
    "aws-s3-default-encryption",  # the bucket list: the account's unit
    "aws-iam-password-policy",  # global
    "aws-cloudtrail-multi-region",  # built from every region: the account's unit
    "aws-ebs-volume-encrypted",  # one unit per region
    "aws-ebs-default-encryption",
    "aws-ec2-no-public-admin-ports",
)
MANAGEMENT = "123456789012"  # moto's account for keys it did not issue
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with emulator_process() as url:
        yield url


def client(url: str, service: str, region: str = "us-east-1", **creds: str) -> Any:
    keys = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name=region, endpoint_url=url, **keys)


@pytest.fixture(scope="module")
def organization(moto_url: str) -> dict[str, Any]:
    """The organisation, its members seeded: per account and region an encrypted and an
    unencrypted volume and bucket; in odd accounts, SSH open to the world in eu-west-1
    and a password policy; default EBS encryption on in us-east-1 of the first four."""
    org = client(moto_url, "organizations")
    org.create_organization(FeatureSet="ALL")
    for n in range(MEMBERS):
        org.create_account(AccountName=f"member-{n}", Email=f"member-{n}@example.com")
    accounts = sorted(a["Id"] for a in org.list_accounts()["Accounts"] if a["Id"] != MANAGEMENT)
    assert len(accounts) == MEMBERS
    sts = client(moto_url, "sts")
    for n, account in enumerate(accounts):
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed"
        )["Credentials"]
        keys = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        if n % 2:
            client(moto_url, "iam", **keys).update_account_password_policy(
                MinimumPasswordLength=16,
                RequireSymbols=True,
                RequireNumbers=True,
                RequireUppercaseCharacters=True,
                RequireLowercaseCharacters=True,
                MaxPasswordAge=90,
                PasswordReusePrevention=24,
            )
        for region in REGIONS:
            ec2 = client(moto_url, "ec2", region, **keys)
            ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=True)
            ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=False)
            if n < 4 and region == "us-east-1":
                ec2.enable_ebs_encryption_by_default()
            if n % 2 and region == "eu-west-1":
                group = ec2.create_security_group(GroupName="ssh", Description="ssh")["GroupId"]
                ec2.authorize_security_group_ingress(
                    GroupId=group,
                    IpPermissions=[
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 22,
                            "ToPort": 22,
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                        }
                    ],
                )
            s3 = client(moto_url, "s3", region, **keys)
            where = (
                {}
                if region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            for kind in ("plain", "sealed"):
                name = f"{kind}-{account}-{region}"
                s3.create_bucket(Bucket=name, **where)
                if kind == "sealed":
                    s3.put_bucket_encryption(
                        Bucket=name,
                        ServerSideEncryptionConfiguration={
                            "Rules": [
                                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
                            ]
                        },
                    )
    return {"url": moto_url, "accounts": accounts}


@pytest.fixture
def workspace(tmp_path: Path, organization: dict[str, Any]) -> Path:
    profile = {
        "controls": {"ids": list(CONTROLS)},
        "targets": [
            {
                "name": "org",
                "provider": "aws",
                "organization": True,
                "role_name": ROLE,
                "external_id": EXTERNAL_ID,
                "regions": list(REGIONS),
                "endpoint_url": organization["url"],
                # The management account is in the organisation too; it holds nothing here.
                "accounts": {"exclude": [MANAGEMENT]},
            }
        ],
    }
    (tmp_path / "assay.yaml").write_text(json.dumps(profile))
    return tmp_path


def environment(ledger: str, access_key: dict[str, Any] | None = None) -> dict[str, str]:
    """A clean environment for `assay` on `ledger`, with a fresh pseudonym key, acting with
    the emulator's keys or `access_key` (what IAM's CreateAccessKey returns)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "ASSAY_", "MOTO_")) and k != "JOB_COMPLETION_INDEX"
    }
    if access_key is not None:
        env |= {
            "AWS_ACCESS_KEY_ID": access_key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": access_key["SecretAccessKey"],
        }
    else:
        env |= KEYS
    return env | {
        "AWS_DEFAULT_REGION": "us-east-1",
        "ASSAY_LEDGER": ledger,
        "ASSAY_PSEUDONYM_KEY": secrets.token_hex(32),
    }


def assay(ws: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assay", *args],
        cwd=ws,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def verdicts(doc: dict[str, Any]) -> Counter[tuple[str, str, str]]:
    return Counter((r["control"], r["resource"]["id"], r["status"]) for r in doc["results"])


def shard_env(env: dict[str, str], index: int) -> dict[str, str]:
    return {**env, "JOB_COMPLETION_INDEX": str(index)}


def unit_records(dsn: str, run: str) -> list[dict[str, Any]]:
    with open_ledger(dsn) as ledger:
        return [
            s.record
            for s in run_index(ledger).run_records(run)
            if s.record.get("kind") == UNIT_FINISHED
        ]


def test_four_shards_over_an_organisation_match_one_process_and_survive_a_killed_shard(
    workspace: Path, organization: dict[str, Any], pg_dsn: str
) -> None:
    env = environment(pg_dsn)

    # One process, its own ledger: the verdicts to match.
    code, out, err = finish(
        assay(workspace, {**env, "ASSAY_LEDGER": "sqlite:///whole.db"}, "run", "-f", "json")
    )
    whole = json.loads(out)
    expected = verdicts(whole)
    assert code == 1, err  # unencrypted volumes and buckets fail
    assert max(expected.values()) == 1
    accounts = {r["resource"]["scope"].get("account") for r in whole["results"]}
    assert accounts == set(organization["accounts"])
    assert {(r[0], r[2]) for r in expected} >= {
        ("aws-ebs-volume-encrypted", "fail"),
        ("aws-ebs-volume-encrypted", "pass"),
        ("aws-ec2-no-public-admin-ports", "fail"),
        ("aws-ebs-default-encryption", "pass"),
        ("aws-ebs-default-encryption", "fail"),
        ("aws-s3-default-encryption", "pass"),
        ("aws-iam-password-policy", "pass"),
    }
    # 8 accounts x (2 regions x 2 volumes) volumes, each judged once.
    assert sum(1 for c, _, _ in expected if c == "aws-ebs-volume-encrypted") == MEMBERS * 4

    # Four shard processes at once, one run id, one PostgreSQL ledger.
    started = time.monotonic()
    shards = [
        assay(workspace, shard_env(env, i), "run", "--shards", "4", "--run-id", "night-1")
        for i in range(4)
    ]
    for proc in shards:
        code, _, err = finish(proc)
        assert code == 0, err
    sharded_seconds = time.monotonic() - started
    code, out, err = finish(
        assay(workspace, env, "runs", "complete", "night-1", "--shards", "4", "-f", "json")
    )
    assert code == 1, err
    assert verdicts(json.loads(out)) == expected
    units = unit_records(pg_dsn, "night-1")
    # Each account: its own unit and one per region; each recorded once.
    assert Counter(u["unit"] for u in units) == Counter(
        {f"org-{a}/{r}": 1 for a in organization["accounts"] for r in ("*", *REGIONS)}
    )
    # An account's units all come from one shard; every shard had work.
    by_account = {(u["group"], u["shard"]) for u in units}
    assert len(by_account) == MEMBERS and {s for _, s in by_account} == {0, 1, 2, 3}
    code, out, err = finish(assay(workspace, env, "evidence", "verify"))
    assert code == 0, out + err

    # The next night: shard 3 is killed once it has recorded a unit.
    procs = {
        i: assay(workspace, shard_env(env, i), "run", "--shards", "4", "--run-id", "night-2")
        for i in range(4)
    }
    deadline = time.monotonic() + 120
    while not any(u["shard"] == 3 for u in unit_records(pg_dsn, "night-2")):
        assert procs[3].poll() is None, "shard 3 finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    procs[3].send_signal(signal.SIGKILL)
    procs[3].wait()
    for i in range(3):
        code, _, err = finish(procs[i])
        assert code == 0, err
    done_before = {u["unit"] for u in unit_records(pg_dsn, "night-2") if u["shard"] == 3}
    assert done_before
    code, _, err = finish(assay(workspace, env, "runs", "complete", "night-2", "--shards", "4"))
    assert code == 3
    assert "3 of 4 shards finished; shard 3 started but not finished" in err
    with open_ledger(pg_dsn) as ledger:
        assert [e.run for e in run_index(ledger).runs(finished=True)] == ["night-1"]

    # Run shard 3 again: it skips what it had recorded and completes the run.
    code, _, err = finish(
        assay(workspace, shard_env(env, 3), "run", "--shards", "4", "--run-id", "night-2")
    )
    assert code == 0, err
    assert f"({len(done_before)} already were)" in err
    code, out, err = finish(
        assay(workspace, env, "runs", "complete", "night-2", "--shards", "4", "-f", "json")
    )
    assert code == 1, err
    second = json.loads(out)
    assert verdicts(second) == expected
    assert second["summary"]["changes"] == {
        "unchanged": sum(1 for _, _, s in expected if s != "fail")
    } | {"still_failing": sum(1 for _, _, s in expected if s == "fail")}
    units = unit_records(pg_dsn, "night-2")
    assert len(units) == len({u["unit"] for u in units}) == MEMBERS * 3
    with open_ledger(pg_dsn) as ledger:
        results = [
            s.record
            for s in run_index(ledger).run_records("night-2")
            if s.record.get("kind") == "result"
        ]
        assert len(results) == sum(expected.values())  # no unit recorded twice
        assert [e.run for e in run_index(ledger).runs(finished=True)] == ["night-2", "night-1"]
    code, out, err = finish(assay(workspace, env, "evidence", "verify"))
    assert code == 0, out + err
    print(f"4 shards over {MEMBERS} accounts: {sharded_seconds:.1f}s")


def test_an_account_whose_role_cannot_be_assumed_fails_alone_naming_the_role(
    workspace: Path,
    organization: dict[str, Any],
    iam_enforced: Callable[[str], AbstractContextManager[None]],
) -> None:
    url, accounts = organization["url"], organization["accounts"]
    refused = accounts[2]
    role = f"arn:aws:iam::{refused}:role/{ROLE}"
    # The runner may do anything but assume the role in one account; each account's
    # role exists and may read (moto checks an assumed role's own policies).
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam = client(url, "iam")
    iam.create_user(UserName="runner")
    iam.put_user_policy(
        UserName="runner",
        PolicyName="runner",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    allow_all,
                    {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="runner")["AccessKey"]
    sts = client(url, "sts")
    for account in accounts:
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")[
            "Credentials"
        ]
        member_iam = client(
            url,
            "iam",
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
        )
        trust = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
        member_iam.create_role(
            RoleName=ROLE,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
        )
        member_iam.put_role_policy(
            RoleName=ROLE,
            PolicyName="read",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow_all]}),
        )
    env = environment("sqlite:///roles.db", key)
    with iam_enforced(url):
        code, out, err = finish(assay(workspace, env, "run", "-f", "json"))
        for i in range(2):
            assert (
                finish(
                    assay(workspace, shard_env(env, i), "run", "--shards", "2", "--run-id", "r")
                )[0]
                == 0
            )
        sharded = finish(
            assay(workspace, env, "runs", "complete", "r", "--shards", "2", "-f", "json")
        )
    assert code == sharded[0] == 1, err  # failures gate before errors
    doc = json.loads(out)
    assert verdicts(json.loads(sharded[1])) == verdicts(doc)
    by_account: dict[str, set[str]] = {}
    for r in doc["results"]:
        by_account.setdefault(r["resource"]["scope"]["target"], set()).add(r["status"])
    assert by_account[f"org-{refused}"] == {"error"}
    refused_results = [
        r for r in doc["results"] if r["resource"]["scope"]["target"] == f"org-{refused}"
    ]
    assert {r["control"] for r in refused_results} == set(CONTROLS)
    assert all(role in r["reason"] for r in refused_results), refused_results[0]["reason"]
    # Every other account was judged.
    for account in accounts:
        if account != refused:
            assert {"pass", "fail"} <= by_account[f"org-{account}"], account


def test_accounts_are_chosen_by_id_and_by_organisational_unit_at_any_depth(
    organization: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, accounts = organization["url"], organization["accounts"]
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    org = client(url, "organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    top = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]
    nested = org.create_organizational_unit(ParentId=top["Id"], Name="prod")["OrganizationalUnit"]
    for account, parent in ((accounts[0], top["Id"]), (accounts[1], nested["Id"])):
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)

    def chosen(**accounts_filter: list[str]) -> list[str]:
        target = AwsTarget.model_validate(
            {
                "organization": True,
                "role_name": ROLE,
                "endpoint_url": url,
                "regions": ["us-east-1"],
                "accounts": accounts_filter,
            }
        )
        members = target.members(10.0)
        assert members is not None
        return [account for account, _ in members]

    assert chosen() == sorted([*accounts, MANAGEMENT])
    assert chosen(ous=[top["Id"]]) == sorted(accounts[:2])
    assert chosen(ous=[nested["Id"]]) == [accounts[1]]
    assert chosen(ous=[top["Id"]], exclude=[accounts[1]]) == [accounts[0]]
    assert chosen(include=[accounts[3], accounts[5]], exclude=[accounts[5]]) == [accounts[3]]
    [(_, options)] = (
        AwsTarget.model_validate(
            {
                "organization": True,
                "role_name": "audit/assay",
                "external_id": "x",
                "endpoint_url": url,
                "accounts": {"include": [accounts[4]]},
            }
        ).members(10.0)
        or []
    )
    member = options.model_dump()
    assert member["role_arn"] == f"arn:aws:iam::{accounts[4]}:role/audit/assay"
    assert member["external_id"] == "x" and member["retry_mode"] == "adaptive"
    assert not member["organization"]


def test_an_organisation_that_cannot_be_listed_fails_whole(
    workspace: Path,
    organization: dict[str, Any],
    iam_enforced: Callable[[str], AbstractContextManager[None]],
) -> None:
    url = organization["url"]
    iam = client(url, "iam")
    iam.create_user(UserName="outsider")
    statements = [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "organizations:*", "Resource": "*"},
    ]
    iam.put_user_policy(
        UserName="outsider",
        PolicyName="outsider",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName="outsider")["AccessKey"]
    env = environment("sqlite:///outsider.db", key)
    with iam_enforced(url):
        code, out, err = finish(assay(workspace, env, "run", "-f", "json"))
        shard = finish(assay(workspace, env, "run", "--shard", "0/1", "--run-id", "o"))
        done = finish(assay(workspace, env, "runs", "complete", "o", "--shards", "1", "-f", "json"))
    assert code == done[0] == 3, err  # nothing decided: every result is an error
    assert shard[0] == 0, shard[2]
    doc = json.loads(out)
    assert verdicts(json.loads(done[1])) == verdicts(doc)
    assert {r["control"] for r in doc["results"]} == set(CONTROLS)
    for r in doc["results"]:
        assert r["status"] == "error" and r["resource"]["scope"]["target"] == "org"
        assert r["reason"].startswith("cannot list the members of target 'org': ")
        assert "AccessDenied" in r["reason"]


def test_every_aws_control_gives_the_same_verdicts_split_by_region(
    workspace: Path, organization: dict[str, Any]
) -> None:
    # The demo's whole stack in the management account: every AWS collector finds
    # something, in both regions, so a collector that answers for another region or
    # for the whole account inside a region's unit shows up as a difference.
    url = organization["url"]
    seed(url, REGIONS[0])
    # And some of every kind of regional resource in the other region.
    other = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    ec2 = client(url, "ec2", REGIONS[1], **other)
    ec2.create_volume(AvailabilityZone=f"{REGIONS[1]}a", Size=8, Encrypted=False)
    client(url, "kms", REGIONS[1], **other).create_key(Description="eu data")
    client(url, "logs", REGIONS[1], **other).create_log_group(logGroupName="eu-app")
    client(url, "sqs", REGIONS[1], **other).create_queue(QueueName="eu-jobs")
    client(url, "sns", REGIONS[1], **other).create_topic(Name="eu-alerts")
    profile = json.loads((workspace / "assay.yaml").read_text())
    profile["controls"] = {"tags": ["aws"]}
    profile["targets"][0]["accounts"] = {"include": [MANAGEMENT]}
    (workspace / "assay.yaml").write_text(json.dumps(profile))
    env = environment("sqlite:///split.db")
    code, out, err = finish(assay(workspace, env, "run", "-f", "json"))
    whole = json.loads(out)
    assert code in (1, 3), err
    assert not whole["summary"]["collection_failures"], whole["summary"]["collection_failures"]
    regions = {r["resource"]["scope"].get("region") for r in whole["results"]}
    assert set(REGIONS) <= regions
    for i in range(2):
        assert (
            finish(assay(workspace, shard_env(env, i), "run", "--shards", "2", "--run-id", "s"))[0]
            == 0
        )
    code_s, out_s, err_s = finish(
        assay(workspace, env, "runs", "complete", "s", "--shards", "2", "-f", "json")
    )
    sharded = json.loads(out_s)
    assert not sharded["summary"]["collection_failures"], sharded["summary"]["collection_failures"]
    assert verdicts(sharded) == verdicts(whole)
    assert code_s == code, err_s
    units = {u["unit"] for u in unit_records("sqlite:///" + str(workspace / "split.db"), "s")}
    assert units == {f"org-{MANAGEMENT}/{r}" for r in ("*", *REGIONS)}
