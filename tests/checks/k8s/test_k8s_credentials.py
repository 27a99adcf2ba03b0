"""Credentials: literal secrets in env (judged from traits, values never kept) and API tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from assay.checks import Status
from assay.checks.k8s import factories as k
from assay.checks.k8s.checks.credentials import SecretEnvParams
from assay.checks.k8s.redact import describe_value
from assay.testing import run_check

WORKLOAD = "k8s.workload"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


def env_resource(*env: dict[str, Any], init: bool = False) -> dict[str, Any]:
    c = k.container("app", env=list(env))
    spec = k.pod_spec(init=[c]) if init else k.pod_spec(c)
    [resource] = k.snapshots(k.workload("Deployment", "app", spec=spec), resource=WORKLOAD)
    return resource


def test_a_literal_password_fails_and_its_value_is_never_collected() -> None:
    resource = env_resource({"name": "DB_PASSWORD", "value": "hunter2-but-longer"})
    assert "hunter2-but-longer" not in json.dumps(resource)
    [entry] = resource["attributes"]["pod_spec"]["containers"][0]["env"]
    assert "value" not in entry
    assert entry["valueRedacted"]["length"] == len("hunter2-but-longer")
    result = run_check("k8s.pod.secret_env_literals", resource)
    assert result.status is Status.FAIL
    assert result.observed["literals"] == [
        {
            "container": "container app",
            "variable": "DB_PASSWORD",
            "why": "name says it holds a credential",
        }
    ]
    assert "hunter2" not in result.reason


def test_secret_key_ref_is_the_compliant_form() -> None:
    resource = env_resource(
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    )
    result = run_check("k8s.pod.secret_env_literals", resource)
    assert result.status is Status.PASS
    assert result.observed == {"from_secrets": 1}


def test_a_credential_shaped_value_fails_whatever_its_name() -> None:
    resource = env_resource({"name": "SIGNING", "value": PRIVATE_KEY}, init=True)
    result = run_check("k8s.pod.secret_env_literals", resource)
    assert result.status is Status.FAIL
    assert result.observed["literals"][0]["container"] == "initContainer app"
    assert "private-key" in result.reason
    # traits are a param: without that one, the same value passes
    kept = [t for t in SecretEnvParams().value_traits if t not in {"private-key", "high-entropy"}]
    assert (
        run_check("k8s.pod.secret_env_literals", resource, value_traits=kept).status is Status.PASS
    )


@pytest.mark.parametrize(
    "env",
    [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "DB_PASSWORD", "value": ""},
        {"name": "DB_PASSWORD", "value": "$(PASSWORD_FROM_SECRET)"},
        {"name": "TOKEN_TTL", "value": "3600"},
        {"name": "AUTH_ENABLED", "value": "true"},
        {"name": "MONKEY", "value": "banana"},
        {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db-password"},
        {"name": "API_TOKEN_FILE", "value": "/var/run/secrets/tokens/api.token"},
    ],
)
def test_literals_that_are_not_credentials_pass(env: dict[str, Any]) -> None:
    assert run_check("k8s.pod.secret_env_literals", env_resource(env)).status is Status.PASS


@pytest.mark.parametrize(
    ("value", "trait"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        ("postgres://app:s3cret@db:5432/app", "url-with-password"),
        ("ghp_" + "a1B2c3D4e5" * 4, "github-token"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "jwt"),
        ("xoxb-1234567890-abcdefghij", "slack-token"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "high-entropy"),
    ],
)
def test_value_traits(value: str, trait: str) -> None:
    assert trait in describe_value(value)["traits"]


@pytest.mark.parametrize(
    "value", ["https://api.example.com/v1/items", "registry.example.com/team/app:1.2.3", "info"]
)
def test_ordinary_values_have_no_traits(value: str) -> None:
    assert describe_value(value)["traits"] == []


def test_secret_env_params_are_validated() -> None:
    with pytest.raises(ValidationError, match="unknown traits"):
        SecretEnvParams.model_validate({"value_traits": ["base64"]})
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        SecretEnvParams.model_validate({"name_pattern": "("})


def token_resource(
    *, pod: bool | None, account: bool | None, declare_account: bool = True, name: str = "api"
) -> dict[str, Any]:
    spec = k.pod_spec(serviceAccountName=name, automountServiceAccountToken=pod)
    objects = [k.workload("Deployment", "app", spec=spec)]
    if declare_account:
        objects.append(k.service_account(name, "tenant-a", automount=account))
    [resource] = k.snapshots(*objects, resource=WORKLOAD)
    return resource


@pytest.mark.parametrize(
    ("pod", "account", "status"),
    [
        (False, True, Status.PASS),  # the pod's own setting wins
        (True, False, Status.FAIL),  # ... both ways
        (None, False, Status.PASS),  # else the ServiceAccount's
        (None, True, Status.FAIL),
        (None, None, Status.FAIL),  # else Kubernetes mounts it
    ],
)
def test_automount_is_decided_by_the_pod_else_the_service_account(
    pod: bool | None, account: bool | None, status: Status
) -> None:
    result = run_check("k8s.pod.service_account_token", token_resource(pod=pod, account=account))
    assert result.status is status
    assert result.observed["mounted"] is (status is Status.FAIL)


def test_a_service_account_missing_from_the_input_means_the_default_mount() -> None:
    resource = token_resource(pod=None, account=None, declare_account=False)
    result = run_check("k8s.pod.service_account_token", resource)
    assert result.status is Status.FAIL
    assert "ServiceAccount api is not in the input" in result.reason


def test_service_accounts_that_need_the_api_may_mount_a_token() -> None:
    resource = token_resource(pod=True, account=None)
    result = run_check("k8s.pod.service_account_token", resource, api_access=["tenant-a/api"])
    assert result.status is Status.PASS
    assert "needing the API" in result.reason


def test_pods_without_a_service_account_name_run_as_default() -> None:
    spec = k.pod_spec(automountServiceAccountToken=None)
    objects = [k.workload("Pod", "p", spec=spec), k.service_account("default", "tenant-a", False)]
    [resource] = k.snapshots(*objects, resource=WORKLOAD)
    assert resource["attributes"]["service_account"] == {
        "name": "default",
        "found": True,
        "automount": False,
    }
    assert run_check("k8s.pod.service_account_token", resource).status is Status.PASS


SECRET = "hunter2-but-longer"
TOKEN = "ghp_" + "a1B2c3D4e5" * 4


def test_command_and_args_keep_flag_names_and_never_values() -> None:
    c = k.container(
        "app",
        command=["/bin/sh", "-c", f"export DB_PASSWORD={SECRET} && exec app"],
        args=["--verbose", f"--db-password={SECRET}", "--token", TOKEN],
    )
    [r] = k.snapshots(k.workload("Deployment", "app", spec=k.pod_spec(c)), resource=WORKLOAD)
    text = json.dumps(r)
    assert SECRET not in text and TOKEN not in text
    [container] = r["attributes"]["pod_spec"]["containers"]
    flag, password, token_flag, token = container["args"]
    assert flag == {"flag": "--verbose"} and token_flag == {"flag": "--token"}
    assert password["flag"] == "--db-password"
    assert password["valueRedacted"]["length"] == len(SECRET)
    assert "github-token" in token["valueRedacted"]["traits"]
    assert [w.get("flag") for w in container["command"]] == [None, "-c", None]


def test_env_written_as_a_mapping_is_redacted_and_judged() -> None:
    c = k.container("app")
    c["env"] = {"DB_PASSWORD": SECRET, "LOG_LEVEL": "debug"}
    [r] = k.snapshots(k.workload("Deployment", "app", spec=k.pod_spec(c)), resource=WORKLOAD)
    assert SECRET not in json.dumps(r)
    env = r["attributes"]["pod_spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["DB_PASSWORD", "LOG_LEVEL"]
    result = run_check("k8s.pod.secret_env_literals", r)
    assert result.status is Status.FAIL
    assert result.observed["literals"][0]["variable"] == "DB_PASSWORD"


def test_a_secret_next_to_a_file_name_still_fails() -> None:
    # Only a path points at a mounted secret; a password under a *_FILE name is still one.
    resource = env_resource({"name": "DB_PASSWORD_FILE", "value": "hunter2-but-longer"})
    assert run_check("k8s.pod.secret_env_literals", resource).status is Status.FAIL
    relative = env_resource({"name": "DB_PASSWORD", "value": "secrets/db password"})
    assert run_check("k8s.pod.secret_env_literals", relative).status is Status.FAIL
