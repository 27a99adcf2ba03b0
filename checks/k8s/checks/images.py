"""Image provenance over `k8s.workload`: allowed registries, and pinning by digest."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from pydantic import Field, field_validator

from assay.checks.k8s.containers import containers
from assay.checks.k8s.resources import K8sParams, applicable
from assay.checks.k8s.workload_check import workload_check
from assay.checks.result import Result, attribute

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", DOCKER_HUB}
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$")


def parse_image(ref: str) -> tuple[str, str | None]:
    """(repository, digest) of an image reference, the repository in full form.

    ``nginx`` -> ``docker.io/library/nginx``; ``ghcr.io/acme/api:1.2@sha256:...`` ->
    (``ghcr.io/acme/api``, ``sha256:...``). The first path part is a registry only when
    it looks like a host (has ``.`` or ``:``, or is ``localhost``), as the container
    runtime decides.
    """
    name, _, digest = ref.partition("@")
    head, sep, rest = name.partition("/")
    if sep and ("." in head or ":" in head or head == "localhost"):
        registry, path = head, rest
    else:
        registry, path = DOCKER_HUB, name
    slash, colon = path.rfind("/"), path.rfind(":")
    if colon > slash:
        path = path[:colon]  # drop the tag
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return f"{registry}/{path}", digest or None


def allowed(repository: str, registries: list[str]) -> bool:
    """Whether `repository` is under one of `registries`: a host (``registry.example.com``),
    a repository prefix (``ghcr.io/acme``) or globs (``*.dkr.ecr.*.amazonaws.com``).

    Entries match whole ``/``-separated parts from the start, a glob within one part only:
    ``ghcr.io/acme`` does not admit ``ghcr.io/acmeevil``, and ``*.amazonaws.com`` does not
    admit ``evil.com/x.amazonaws.com``.
    """
    parts = repository.split("/")
    for entry in registries:
        want = entry.strip("/").split("/")
        if len(want) <= len(parts) and all(map(fnmatchcase, parts, want)):
            return True
    return False


class ImageParams(K8sParams):
    registries: list[str] = Field(
        min_length=1,
        description="Allowed registries or repository prefixes (globs allowed), "
        "e.g. registry.example.com, ghcr.io/acme, *.dkr.ecr.eu-west-1.amazonaws.com.",
    )
    require_digest: bool = Field(
        default=True, description="Images must be pinned by digest (@sha256:...), not a tag."
    )

    @field_validator("registries")
    @classmethod
    def _no_blank(cls, registries: list[str]) -> list[str]:
        for entry in registries:
            if not entry.strip("/ "):
                raise ValueError(f"expected a registry or repository prefix; got {entry!r}")
        return registries


@workload_check("k8s.pod.image_provenance", params=ImageParams)
def image_provenance(resource: dict[str, Any], params: ImageParams) -> Result:
    """Pass when every container's image comes from an allowed registry (and, with
    `require_digest`, names an immutable digest rather than a movable tag)."""
    if (skip := applicable(resource, params)) is not None:
        return skip
    bad: list[str] = []
    images: list[str] = []
    total = 0
    for label, c in containers(attribute(resource, "pod_spec")):
        total += 1
        image = c.get("image")
        if not isinstance(image, str) or not image:
            bad.append(f"{label} has no image")
            continue
        images.append(image)
        repository, digest = parse_image(image)
        problems = []
        if not allowed(repository, params.registries):
            problems.append("not from an allowed registry")
        if params.require_digest and (digest is None or not _DIGEST.match(digest)):
            problems.append("not pinned by digest")
        if problems:
            bad.append(f"{label} image {image} ({' and '.join(problems)})")
    if not total:
        return Result.error("the pod spec lists no containers; nothing to judge")
    if bad:
        return Result.failed(
            f"images that fail ({len(bad)} of {total}): {'; '.join(bad)}",
            images=bad,
            allowed=params.registries,
        )
    pinned = " and is pinned by digest" if params.require_digest else ""
    return Result.passed(
        f"every image comes from an allowed registry{pinned} ({total} checked)", images=images
    )
