"""Framework files: loading them, the criteria they derive for each control, and the
mapping table the docs carry.

A framework file (`controls/frameworks/<id>.yaml`, or `frameworks/` in a profile's
controls_dirs) lists a framework's criteria; a criterion may name reference ids
(`references: {prowler: [iam_root_mfa_enabled]}`), and every control whose own `references`
of that kind name one of them maps to the criterion. A control's criteria are the union of
what its own `frameworks` says and what the files derive, so a new control that cites its
equivalent Prowler checks is mapped to every framework without touching a framework file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assay.engine.models import Control, Framework
from assay.errors import ConfigError, ConfigErrors
from assay.yamlsource import read_yaml

FRAMEWORKS_DIR = "frameworks"


@dataclass(frozen=True)
class ReferenceIndex:
    """What the framework files derive, indexed once for a whole catalog."""

    # (reference kind, reference id) -> the (framework, criterion) pairs naming it
    criteria: dict[tuple[str, str], list[tuple[str, str]]]
    # framework -> criterion -> its place in the framework file
    position: dict[str, dict[str, int]]


@cache
def framework_schema() -> dict[str, Any]:
    """The JSON Schema of a framework file, generated from the model."""
    return Framework.model_json_schema()


def load_frameworks(folders: Iterable[Path]) -> dict[str, Framework]:
    """Every framework file in `folders` (those that exist), in order; ConfigErrors names
    the file and line of every problem: schema, an id unlike the file name, a criterion
    listed twice, a framework defined twice."""
    frameworks: dict[str, Framework] = {}
    first_seen: dict[str, Path] = {}
    errors: list[ConfigError] = []
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            try:
                fw = _load_framework(path)
            except (ConfigError, ConfigErrors) as exc:
                errors += exc.errors
                continue
            if fw.id in frameworks:
                errors.append(
                    ConfigError(
                        f"framework {fw.id!r} is already defined in {first_seen[fw.id]}",
                        file=path,
                        field="id",
                    )
                )
                continue
            frameworks[fw.id] = fw
            first_seen[fw.id] = path
    if errors:
        raise ConfigErrors(errors)
    return frameworks


def _load_framework(path: Path) -> Framework:
    doc = read_yaml(path)
    try:
        fw = Framework.model_validate(doc.data)
    except ValidationError as exc:
        # Worded as control errors are, from the JSON Schema; validating every file against
        # it up front would triple the time the catalog takes to load.
        raise doc.schema_errors(framework_schema()) or ConfigErrors(
            [doc.error(e["msg"], e["loc"]) for e in exc.errors(include_url=False)]
        ) from None
    errors: list[ConfigError] = []
    if fw.id != path.stem:
        errors.append(
            doc.error(
                f"framework id {fw.id!r} does not match the file name; expected {path.stem!r}",
                ["id"],
            )
        )
    seen: dict[str, int] = {}
    for i, criterion in enumerate(fw.criteria):
        if criterion.id in seen:
            first = doc.line(["criteria", seen[criterion.id]])
            errors.append(
                doc.error(
                    f"criterion {criterion.id!r} is listed twice; first at line {first}",
                    ["criteria", i, "id"],
                )
            )
        seen.setdefault(criterion.id, i)
    if errors:
        raise ConfigErrors(errors)
    return fw


def reference_index(frameworks: Mapping[str, Framework]) -> ReferenceIndex:
    criteria: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for fw in frameworks.values():
        for criterion in fw.criteria:
            for kind, ids in criterion.references.items():
                for ref in ids:
                    criteria.setdefault((kind, ref), []).append((fw.id, criterion.id))
    position = {fw.id: {c.id: i for i, c in enumerate(fw.criteria)} for fw in frameworks.values()}
    return ReferenceIndex(criteria, position)


def control_criteria(control: Control, index: ReferenceIndex) -> dict[str, list[str]]:
    """The control's own criteria and those derived from its references, by framework in
    catalog order, each list in its framework file's order. Frameworks the control's own
    YAML names with an empty list stay, empty. Its own criteria must exist (the loader
    checks them first)."""
    chosen: dict[str, set[str]] = {fw: set(crits) for fw, crits in control.frameworks.items()}
    for kind, ids in control.references.items():
        for ref in [ids] if isinstance(ids, str) else ids:
            for fw, crit in index.criteria.get((kind, ref), ()):
                chosen.setdefault(fw, set()).add(crit)
    return {
        fw: sorted(chosen[fw], key=index.position[fw].__getitem__)
        for fw in index.position
        if fw in chosen
    }


def mapping_tables(frameworks: Mapping[str, Framework], controls: Iterable[Control]) -> str:
    """Markdown: the frameworks (criteria listed and mapped, sources), then one row per
    control with its criteria in each framework."""
    rows = sorted(controls, key=lambda c: c.id)
    mapped: dict[str, set[str]] = {fw: set() for fw in frameworks}
    for c in rows:
        for fw_id, crits in c.frameworks.items():
            mapped.setdefault(fw_id, set()).update(crits)
    out = [
        "| framework | title | criteria | mapped | sources |",
        "|---|---|---:|---:|---|",
    ]
    for fw in frameworks.values():
        sources = "; ".join(
            s.origin + (f" {s.version}" if s.version else "") + (f", `{s.path}`" if s.path else "")
            for s in fw.sources
        )
        out.append(
            f"| `{fw.id}` | {_cell(fw.title)} | {len(fw.criteria)} | {len(mapped[fw.id])} "
            f"| {_cell(sources)} |"
        )
    out += [
        "",
        "| control | " + " | ".join(f"`{fw}`" for fw in frameworks) + " |",
        "|---|" + "---|" * len(frameworks),
    ]
    for c in rows:
        cells = [", ".join(c.frameworks.get(fw) or ()) or "—" for fw in frameworks]
        out.append(f"| `{c.id}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
