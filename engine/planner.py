"""From a profile and the catalog to a plan: which controls run, how, and on which targets."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assay.checks import registry
from assay.controls import catalog_root
from assay.engine.catalog import Catalog, LoadedControl, _pydantic_errors, bind, load_catalog
from assay.engine.models import Control, Profile, Selection, Target
from assay.engine.severity import Severity
from assay.errors import ConfigError, ConfigErrors
from assay.yamlsource import YamlDocument, read_yaml, schema_problems

DEFAULT_PROFILE = "assay.yaml"


@dataclass(frozen=True)
class PlannedTarget:
    target: Target
    options: BaseModel
    resource_types: tuple[str, ...]
    # Per resource type, the attributes its planned controls read (absent or None: all),
    # so a collector makes only the calls those need.
    attributes: Mapping[str, frozenset[str] | None] = field(default_factory=dict)


@dataclass
class Plan:
    controls: list[LoadedControl]
    targets: list[PlannedTarget]
    catalog: Catalog
    profile: Profile
    profile_path: Path | None = None
    # The framework selections in force (the profile's, the command line's); scores cover
    # the criteria every non-empty one selects, all criteria when there is none.
    framework_scope: tuple[tuple[str, ...], ...] = ()

    def scores_criterion(self, framework: str, criterion: str) -> bool:
        return all(
            any(_spec_covers(spec, framework, criterion) for spec in specs)
            for specs in self.framework_scope
            if specs
        )


def _spec_covers(spec: str, framework: str, criterion: str) -> bool:
    fw, _, crit = spec.partition(":")
    return fw == framework and (not crit or crit == criterion)


@dataclass(frozen=True)
class Filters:
    """Command-line narrowing applied on top of the profile's own selection."""

    frameworks: Sequence[str] = ()
    controls: Sequence[str] = ()
    severity: Severity | None = None


def builtin_profile() -> Path:
    return Path(str(catalog_root())) / "profiles" / "default.yaml"


def resolve_profile(path: Path | None) -> Path:
    """The profile named on the command line, else ./assay.yaml, else the built-in default."""
    if path is not None:
        return path
    local = Path(DEFAULT_PROFILE)
    return local if local.is_file() else builtin_profile()


def load_profile(path: Path, text: str | None = None) -> tuple[Profile, YamlDocument]:
    doc = read_yaml(path, text)
    if not isinstance(doc.data, dict):
        raise doc.error("expected a mapping of profile settings")
    try:
        return Profile.model_validate(doc.data), doc
    except ValidationError as exc:
        # Each problem in the words control files get (unknown field 'x'; expected one of
        # ...), from the JSON Schema of the same model, where it has the same place; the
        # schema alone would also refuse what pydantic accepts (a YAML date for a date).
        worded = dict(schema_problems(profile_schema(), doc))
        found = sorted((tuple(e["loc"]) for e in exc.errors(include_url=False)), key=doc.line)
        pydantic_words = {tuple(e["loc"]): e["msg"] for e in exc.errors(include_url=False)}
        raise ConfigErrors(
            [doc.error(worded.get(loc, pydantic_words[loc]), loc) for loc in found]
        ) from None


@functools.cache
def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a profile, generated from its model."""
    return Profile.model_json_schema()


def _controls_dirs(profile: Profile, profile_path: Path) -> list[Path]:
    return [profile_path.parent / d for d in profile.controls_dirs]


def profile_catalog(profile_path: Path) -> Catalog:
    """The controls a profile runs with: the built-in catalog and its `controls_dirs`."""
    profile, _ = load_profile(profile_path)
    return load_catalog(_controls_dirs(profile, profile_path))


def make_plan(
    profile_path: Path,
    filters: Filters = Filters(),
    *,
    profile_text: str | None = None,
    with_targets: bool = True,
) -> Plan:
    """Load and check everything a run needs; raise ConfigError(s) before anything runs.

    Without `with_targets` the profile's targets are neither checked nor planned: a stored
    snapshot evaluates without the live systems, or the files, it was collected from.
    """
    profile, doc = load_profile(profile_path, profile_text)

    def runs(control: Control) -> bool:
        return _selects(profile.controls, control) and _keeps(filters, control)

    # Only the controls the run runs are bound, so only their providers' checks load.
    catalog = load_catalog(_controls_dirs(profile, profile_path), only=runs)
    known = catalog.ids()
    errors = _selection_errors(catalog, known, profile.controls, doc)
    errors += _filter_errors(catalog, known, filters)
    selected = list(catalog.controls.values())
    by_id = {c.control.id: c for c in selected}
    for cid, params in profile.params.items():
        if cid not in known:
            errors.append(doc.error(f"unknown control id {cid!r}", ["params", cid]))
            continue
        if cid not in by_id:
            continue
        loaded = by_id[cid]
        merged = {**loaded.control.params, **params}
        try:
            evaluate, perms, bound = bind(loaded.control, merged, doc, ("params", cid))
        except (ConfigError, ConfigErrors) as exc:
            errors += exc.errors if isinstance(exc, ConfigErrors) else [exc]
            continue
        by_id[cid] = replace(loaded, evaluate=evaluate, permissions=perms, params=bound)
    for i, waiver in enumerate(profile.waivers):
        if not any(waiver.covers_control(cid) for cid in known):
            errors.append(
                doc.error(f"waiver {waiver.id!r} names no known control", ["waivers", i, "control"])
            )
    controls = [by_id[c.control.id] for c in selected]
    targets = _plan_targets(profile, doc, controls, errors) if with_targets else []
    if errors:
        raise ConfigErrors(errors)
    scope = (tuple(profile.controls.frameworks), tuple(filters.frameworks))
    return Plan(controls, targets, catalog, profile, profile_path, scope)


def _selects(sel: Selection, c: Control) -> bool:
    """Whether the profile's `controls:` selection takes control `c`."""
    return (
        (not sel.ids or c.id in sel.ids)
        and (not sel.frameworks or any(c.in_framework(fw) for fw in sel.frameworks))
        and (not sel.tags or bool(set(sel.tags) & set(c.tags)))
        and (sel.severity is None or c.severity.rank >= sel.severity.rank)
    )


def _keeps(f: Filters, c: Control) -> bool:
    """Whether the command line's narrowing keeps control `c`."""
    return (
        (not f.controls or c.id in f.controls)
        and (not f.frameworks or any(c.in_framework(fw) for fw in f.frameworks))
        and (f.severity is None or c.severity.rank >= f.severity.rank)
    )


def _selection_errors(
    catalog: Catalog, known: set[str], sel: Selection, doc: YamlDocument
) -> list[ConfigError]:
    errors = [
        doc.error(f"unknown control id {cid!r}", ["controls", "ids", i])
        for i, cid in enumerate(sel.ids)
        if cid not in known
    ]
    for i, spec in enumerate(sel.frameworks):
        problem = framework_spec_problem(catalog, spec)
        if problem:
            errors.append(doc.error(problem, ["controls", "frameworks", i]))
    return errors


def _filter_errors(catalog: Catalog, known: set[str], f: Filters) -> list[ConfigError]:
    errors = [
        ConfigError(f"unknown control id {cid!r}", field="--control")
        for cid in f.controls
        if cid not in known
    ]
    for spec in f.frameworks:
        problem = framework_spec_problem(catalog, spec)
        if problem:
            errors.append(ConfigError(problem, field="--framework"))
    return errors


def framework_spec_problem(catalog: Catalog, spec: str) -> str | None:
    """Why `spec` (a framework id, or framework:criterion) names nothing; None when it does."""
    fw_id, colon, crit = spec.partition(":")
    fw = catalog.frameworks.get(fw_id)
    if fw is None:
        return f"unknown framework {fw_id!r}; expected one of {', '.join(catalog.frameworks)}"
    if colon and fw.criterion(crit) is None:
        return (
            f"unknown {fw_id} criterion {crit!r}; expected one of "
            f"{', '.join(c.id for c in fw.criteria)}"
        )
    return None


def attributes_read(controls: Sequence[LoadedControl]) -> dict[str, frozenset[str] | None]:
    """Per resource type, the attributes `controls` read (None: all of them)."""
    reads: dict[str, list[frozenset[str] | None]] = {}
    for c in controls:
        reads.setdefault(c.control.resource, []).append(
            registry.attributes_needed(c.control.check, c.control.rule)
        )
    return {rtype: registry.plan_attributes(needs) for rtype, needs in reads.items()}


def _plan_targets(
    profile: Profile, doc: YamlDocument, controls: list[LoadedControl], errors: list[ConfigError]
) -> list[PlannedTarget]:
    planned: list[PlannedTarget] = []
    attributes = attributes_read(controls)
    names: set[str] = set()
    for i, target in enumerate(profile.targets):
        if target.name in names:
            errors.append(
                doc.error(f"duplicate target name {target.name!r}", ["targets", i, "name"])
            )
        names.add(target.name)
        spec = registry.get_provider(target.provider)
        if spec is None:
            errors.append(
                doc.error(
                    f"unknown provider {target.provider!r}; "
                    f"expected one of {', '.join(sorted(registry.providers()))}",
                    ["targets", i, "provider"],
                )
            )
            continue
        try:
            options = spec.options.model_validate(target.options)
        except ValidationError as exc:
            errors += _pydantic_errors(doc, exc, ("targets", i)).errors
            continue
        types = tuple(
            sorted({c.control.resource for c in controls if c.control.provider == target.provider})
        )
        planned.append(PlannedTarget(target, options, types, {t: attributes[t] for t in types}))
    return planned
