"""Image references: parsing as the runtime does, registry allow-lists, digest pinning."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from assay.checks import Status
from assay.checks.k8s import factories as k
from assay.checks.k8s.checks.images import ImageParams, allowed, parse_image
from assay.testing import run_check

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "repository", "digest"),
    [
        ("nginx", "docker.io/library/nginx", None),
        ("nginx:1.27", "docker.io/library/nginx", None),
        ("bitnami/redis:7", "docker.io/bitnami/redis", None),
        ("docker.io/nginx", "docker.io/library/nginx", None),
        ("index.docker.io/library/nginx:1", "docker.io/library/nginx", None),
        ("ghcr.io/acme/api:1.2", "ghcr.io/acme/api", None),
        (f"ghcr.io/acme/api:1.2@{DIGEST}", "ghcr.io/acme/api", DIGEST),
        (f"ghcr.io/acme/api@{DIGEST}", "ghcr.io/acme/api", DIGEST),
        ("localhost/app", "localhost/app", None),
        ("registry.local:5000/team/app:3", "registry.local:5000/team/app", None),
        ("registry.local:5000/team/app", "registry.local:5000/team/app", None),
    ],
)
def test_parse_image(ref: str, repository: str, digest: str | None) -> None:
    assert parse_image(ref) == (repository, digest)


@pytest.mark.parametrize(
    ("repository", "registries", "ok"),
    [
        ("ghcr.io/acme/api", ["ghcr.io/acme"], True),
        ("ghcr.io/acme/api", ["ghcr.io/acme/"], True),
        ("ghcr.io/acmeevil/api", ["ghcr.io/acme"], False),
        ("ghcr.io/acme/api", ["ghcr.io"], True),
        ("docker.io/library/nginx", ["ghcr.io", "docker.io/library"], True),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app", ["*.dkr.ecr.*.amazonaws.com"], True),
        ("evil.com/x.dkr.ecr.eu-west-1.amazonaws.com/app", ["*.dkr.ecr.*.amazonaws.com"], False),
        ("ghcr.io/acme/api", ["ghcr.io/*/api"], True),
        ("ghcr.io", ["ghcr.io/acme"], False),
        ("docker.io/library/nginx", ["registry.example.com"], False),
    ],
)
def test_allowed(repository: str, registries: list[str], ok: bool) -> None:
    assert allowed(repository, registries) is ok


def judge(*images: str, init: tuple[str, ...] = (), **params: Any) -> Any:
    spec = k.pod_spec(
        *(k.container(f"c{i}", image=img) for i, img in enumerate(images)),
        init=[k.container(f"i{i}", image=img) for i, img in enumerate(init)],
    )
    [resource] = k.snapshots(k.workload("Deployment", "app", spec=spec), resource="k8s.workload")
    params.setdefault("registries", ["registry.example.com"])
    return run_check("k8s.pod.image_provenance", resource, **params)


def test_pinned_images_from_allowed_registries_pass() -> None:
    result = judge(f"registry.example.com/a@{DIGEST}", init=(f"registry.example.com/b@{DIGEST}",))
    assert result.status is Status.PASS
    assert len(result.observed["images"]) == 2


def test_a_tag_is_not_a_pin() -> None:
    result = judge("registry.example.com/a:1.0")
    assert result.status is Status.FAIL
    assert "not pinned by digest" in result.reason
    assert judge("registry.example.com/a:1.0", require_digest=False).status is Status.PASS


def test_an_init_container_from_docker_hub_fails() -> None:
    result = judge(f"registry.example.com/a@{DIGEST}", init=(f"busybox@{DIGEST}",))
    assert result.status is Status.FAIL
    assert result.observed["images"] == [
        f"initContainer i0 image busybox@{DIGEST} (not from an allowed registry)"
    ]


def test_a_malformed_digest_is_not_a_pin() -> None:
    assert judge("registry.example.com/a@sha256:abc").status is Status.FAIL


def test_registries_must_be_given_and_not_blank() -> None:
    with pytest.raises(ValidationError, match="registries"):
        ImageParams.model_validate({})
    with pytest.raises(ValidationError, match="expected a registry"):
        ImageParams.model_validate({"registries": [" / "]})
