"""Offline input: manifest files and folders, and `kubectl get -o json|yaml` dumps.

Both are read the same way: every ``.yaml``, ``.yml`` and ``.json`` file (a folder is
walked in name order, hidden entries skipped), every document of a multi-document
YAML file, every item of a List (``kind: List`` from kubectl, or ``PodList`` and the
like from the raw API). Kinds assay does not judge (Services, ConfigMaps, custom
resources...) are skipped and counted in the target's identity (``skipped``); anything
that is not a Kubernetes object is an error naming its file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from assay.checks.k8s.connection import K8sConnection
from assay.checks.k8s.kinds import Kind, kind_of
from assay.checks.k8s.redact import scrub
from assay.errors import AssayError

SUFFIXES = (".yaml", ".yml", ".json")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ManifestError(AssayError, ValueError):
    """Offline input that is not what it should be; the message starts with file:line."""


class OfflineObjects(K8sConnection):
    """Objects read from files, or handed over in memory (tests, benchmarks)."""

    _where: dict[tuple[str, str | None, str], str]  # object -> "file:line" it was read from

    def __init__(
        self,
        objects: Iterable[tuple[str, dict[str, Any]]],
        *,
        context: str,
        default_namespace: str = "default",
        about: dict[str, Any] | None = None,
    ) -> None:
        """`objects` are (where it came from, object) pairs; where is used in errors only."""
        super().__init__(context)
        self._about = dict(about or {"source": "objects"})
        self._by_kind: dict[str, list[dict[str, Any]]] = {}
        self._namespaces: set[str] = set()
        seen = self._where = {}
        skipped: dict[str, int] = {}
        count = 0
        for where, obj in objects:
            count += 1
            kind = kind_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            if kind is None:
                # Listed, not dropped: the target's identity says what was not judged.
                name = f"{obj.get('apiVersion', '')} {obj.get('kind', '')}".strip()
                skipped[name] = skipped.get(name, 0) + 1
                continue
            obj = _place(scrub(obj), kind, default_namespace, where)
            meta = obj["metadata"]
            key = (kind.kind, meta.get("namespace"), meta["name"])
            if key in seen:
                raise ManifestError(
                    f"{where}: {kind.kind} {_display(key)} is defined twice; first in {seen[key]}"
                )
            seen[key] = where
            if kind.namespaced:
                self._namespaces.add(meta["namespace"])
            self._by_kind.setdefault(kind.kind, []).append(obj)
        self._about["objects"] = count
        self._about["skipped"] = dict(sorted(skipped.items()))

    @property
    def offline(self) -> bool:
        return True

    def identity(self) -> dict[str, Any]:
        return {"context": self.context, **self._about}

    def inferred_namespaces(self) -> set[str]:
        return set(self._namespaces)

    def source_of(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        meta = obj.get("metadata") or {}
        key = (str(obj.get("kind")), meta.get("namespace"), str(meta.get("name")))
        where = self._where.get(key)
        if where is None or not where.rpartition(":")[2].isdigit():
            return None
        file, _, line = where.rpartition(":")
        return {"file": file, "line": int(line)}

    def _list(self, kind: Kind) -> list[dict[str, Any]]:
        return self._by_kind.get(kind.kind, [])


def load(path: Path, *, context: str, default_namespace: str, source: str) -> OfflineObjects:
    """Read `path` (a file, or a folder of manifests) into an offline connection."""
    return OfflineObjects(
        read_objects(path),
        context=context,
        default_namespace=default_namespace,
        about={"source": source, "path": str(path)},
    )


def read_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file:line, object) for every object in `path`, Lists expanded."""
    for file in _files(path):
        for where, doc in _documents(file):
            if doc is None:
                continue  # an empty document, e.g. after a trailing ---
            yield from _expand(where, doc)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ManifestError(f"{path}: no such file or folder")
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _documents(file: Path) -> Iterator[tuple[str, Any]]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{file}: cannot read: {exc}") from None
    if file.suffix == ".json":
        try:
            yield f"{file}:1", json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{file}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        return
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
            yield f"{file}:{node.start_mark.line + 1}", loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ManifestError(f"{file}:{line}: invalid YAML: {exc.problem}") from None
    finally:
        loader.dispose()


def _expand(where: str, doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(doc, dict):
        raise ManifestError(
            f"{where}: expected a Kubernetes object (a mapping); got {type(doc).__name__}"
        )
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        raise ManifestError(
            f"{where}: expected a Kubernetes object with string `apiVersion` and `kind`; "
            f"got apiVersion={api_version!r}, kind={kind!r}"
        )
    if not kind.endswith("List") or "items" not in doc:
        yield where, doc
        return
    items = doc["items"]
    if not isinstance(items, list):
        raise ManifestError(f"{where}: {kind}.items must be a list; got {type(items).__name__}")
    item_kind = kind[: -len("List")]
    for i, item in enumerate(items):
        at = f"{where} item {i}"
        if isinstance(item, dict) and item_kind and "kind" not in item:
            # A raw API list (PodList): its items carry no kind or apiVersion.
            item = {"kind": item_kind, "apiVersion": api_version, **item}
        yield from _expand(at, item)


def _place(obj: dict[str, Any], kind: Kind, default_namespace: str, where: str) -> dict[str, Any]:
    """Check the object has a name; give a namespaced object without one `default_namespace`."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ManifestError(f"{where}: {kind.kind} has no metadata.name")
    if kind.namespaced and not meta.get("namespace"):
        # As `kubectl apply` would: objects without a namespace land in the default one.
        obj["metadata"] = {**meta, "namespace": default_namespace}
    elif not kind.namespaced and "namespace" in meta:
        obj["metadata"] = {k: v for k, v in meta.items() if k != "namespace"}
    return obj


def _display(key: tuple[str, str | None, str]) -> str:
    return f"{key[1]}/{key[2]}" if key[1] else key[2]
