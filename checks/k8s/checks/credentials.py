"""Credential exposure over `k8s.workload`: secrets in env literals, and mounted API tokens."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from assay.checks.k8s.collect.workloads import PERMISSIONS
from assay.checks.k8s.containers import containers
from assay.checks.k8s.kinds import permissions
from assay.checks.k8s.redact import TRAITS
from assay.checks.k8s.resources import K8sParams, applicable, matches
from assay.checks.k8s.workload_check import workload_check
from assay.checks.result import Result, attribute

# Whole words of a variable name (split at _ . -) that say it holds a credential.
DEFAULT_NAME_PATTERN = (
    r"(?i)(^|[_.-])(PASSWORD|PASSWD|PWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY"
    r"|ACCESS_?KEY|SECRET_?KEY|CLIENT_?SECRET|CREDENTIALS?|DSN)([_.-]|$)"
)


class SecretEnvParams(K8sParams):
    name_pattern: str = Field(
        default=DEFAULT_NAME_PATTERN,
        description="Regex over env var names that hold credentials (Python syntax).",
    )
    value_traits: list[str] = Field(
        default_factory=lambda: list(TRAITS),
        description=f"Value shapes that make any literal a credential: {', '.join(TRAITS)}.",
    )

    @field_validator("name_pattern")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @field_validator("value_traits")
    @classmethod
    def _traits(cls, traits: list[str]) -> list[str]:
        unknown = sorted(set(traits) - set(TRAITS))
        if unknown:
            raise ValueError(f"unknown traits {unknown}; expected some of {', '.join(TRAITS)}")
        return traits


@workload_check("k8s.pod.secret_env_literals", params=SecretEnvParams)
def secret_env_literals(resource: dict[str, Any], params: SecretEnvParams) -> Result:
    """Fail when a container's env holds a credential as a literal value.

    A literal is a credential when the variable's name matches `name_pattern` or the
    value has one of `value_traits`; empty values, plain numbers and booleans, values that
    only expand other variables, and absolute file paths (``DB_PASSWORD_FILE=/run/secrets/db``,
    the convention of pointing at a mounted secret) are not. `valueFrom.secretKeyRef` (and `envFrom`
    a Secret) is the compliant form and always passes. The value itself was never
    collected: only its traits.
    """
    if (skip := applicable(resource, params)) is not None:
        return skip
    name_pattern = re.compile(params.name_pattern)
    wanted = set(params.value_traits)
    bad: list[dict[str, str]] = []
    from_secrets = 0
    for label, c in containers(attribute(resource, "pod_spec")):
        for entry in c.get("env") or ():
            if not isinstance(entry, dict):
                continue
            if "secretKeyRef" in (entry.get("valueFrom") or {}):
                from_secrets += 1
            literal = entry.get("valueRedacted")
            if not literal or not literal["length"] or literal["referencesOnly"]:
                continue
            name = str(entry.get("name", ""))
            traits = sorted(wanted.intersection(literal["traits"]))
            if traits:
                why = f"value looks like {', '.join(traits)}"
            elif name_pattern.search(name) and not literal["plain"] and not literal.get("filePath"):
                why = "name says it holds a credential"
            else:
                continue
            bad.append({"container": label, "variable": name, "why": why})
    if bad:
        listed = "; ".join(f"{b['variable']} in {b['container']} ({b['why']})" for b in bad)
        return Result.failed(
            f"env variables holding a literal credential: {listed}; use valueFrom.secretKeyRef",
            literals=bad,
        )
    return Result.passed(
        f"no env variable holds a literal credential ({from_secrets} read from Secrets)",
        from_secrets=from_secrets,
    )


class AutomountParams(K8sParams):
    api_access: list[str] = Field(
        default_factory=list,
        description="Service accounts that need the Kubernetes API, as namespace/name globs; "
        "their pods may mount a token.",
    )


@workload_check(
    "k8s.pod.service_account_token",
    params=AutomountParams,
    permissions=[*PERMISSIONS, *permissions("ServiceAccount")],
)
def service_account_token(resource: dict[str, Any], params: AutomountParams) -> Result:
    """Fail when a pod gets an API token mounted although its service account is not
    listed in `api_access`.

    The pod's automountServiceAccountToken decides; unset, its ServiceAccount's; unset
    there too, Kubernetes mounts the token. The ServiceAccount is only read when the pod
    leaves the choice to it, so a pod that decides is judged even when ServiceAccounts
    could not be listed.
    """
    if (skip := applicable(resource, params)) is not None:
        return skip
    spec = attribute(resource, "pod_spec")
    namespace = resource["attributes"]["namespace"]
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    pod_setting = spec.get("automountServiceAccountToken")
    observed: dict[str, Any] = {"service_account": account, "pod_setting": pod_setting}
    if pod_setting is not None:
        mounted = bool(pod_setting)
        why = f"the pod sets automountServiceAccountToken: {str(pod_setting).lower()}"
    else:
        sa = attribute(resource, "service_account")
        observed["service_account_setting"] = sa["automount"]
        if sa["automount"] is not None:
            mounted = bool(sa["automount"])
            why = (
                f"ServiceAccount {account} sets automountServiceAccountToken: "
                f"{str(sa['automount']).lower()} and the pod does not override it"
            )
        else:
            mounted = True
            missing = "" if sa["found"] else f" (ServiceAccount {account} is not in the input)"
            why = (
                f"neither the pod nor ServiceAccount {account} sets automountServiceAccountToken,"
                f" so Kubernetes mounts the token{missing}"
            )
    observed["mounted"] = mounted
    if not mounted:
        return Result.passed(f"no API token is mounted: {why}", **observed)
    if matches(f"{namespace}/{account}", params.api_access):
        return Result.passed(
            f"an API token is mounted and {namespace}/{account} is listed as needing the API "
            "(param api_access)",
            **observed,
        )
    return Result.failed(f"an API token is mounted: {why}", **observed)
