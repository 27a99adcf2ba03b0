"""Loading and validating controls: YAML -> JSON Schema -> model -> bound check or compiled rule.

Every problem is reported with its file, line and field. Nothing runs until every control
file is well-formed (schema, id, frameworks) and every control the run runs is bound to its
check; a run binds no other control (`load_catalog`'s `only`), so it imports only the
providers of its own controls. Whoever loads the whole catalog binds all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assay.checks import Result, RuleError, compile_rule, registry
from assay.controls import catalog_root
from assay.engine.frameworks import (
    FRAMEWORKS_DIR,
    ReferenceIndex,
    control_criteria,
    load_frameworks,
    reference_index,
)
from assay.engine.models import Control, Framework
from assay.errors import ConfigError, ConfigErrors
from assay.yamlsource import YamlDocument, read_yaml

Evaluator = Callable[[dict[str, Any], datetime], Result]
NOT_CONTROLS = {"frameworks", "profiles"}


@dataclass(frozen=True)
class LoadedControl:
    control: Control
    path: Path
    line: int
    evaluate: Evaluator
    permissions: tuple[str, ...]
    params: dict[str, Any]


@dataclass
class Catalog:
    controls: dict[str, LoadedControl] = field(default_factory=dict)
    frameworks: dict[str, Framework] = field(default_factory=dict)
    # Controls read and checked, but not bound to their checks: `load_catalog`'s `only`
    # refused them, so their providers' checks were not imported for them.
    unbound: dict[str, Control] = field(default_factory=dict)

    def ids(self) -> set[str]:
        """The id of every control of the catalog, bound or not."""
        return {*self.controls, *self.unbound}

    def criteria(self) -> dict[tuple[str, str], list[str]]:
        """The reverse index (framework, criterion) -> control ids, computed from the controls."""
        index: dict[tuple[str, str], list[str]] = {}
        for cid in sorted(self.controls):
            for fw, crits in self.controls[cid].control.frameworks.items():
                for crit in crits:
                    index.setdefault((fw, crit), []).append(cid)
        return index


@cache
def control_schema() -> dict[str, Any]:
    """The JSON Schema of a control file, generated from the model (and shipped)."""
    return Control.model_json_schema()


def load_catalog(
    extra_dirs: Iterable[Path] = (),
    *,
    builtin: bool = True,
    only: Callable[[Control], bool] | None = None,
) -> Catalog:
    """Load the built-in catalog and extra control folders; raise ConfigErrors on any problem.

    Framework files come from the built-in `frameworks/` and from a `frameworks/` folder in
    each extra folder. Every loaded control's `frameworks` holds its own criteria and those
    the framework files derive from its references.

    With `only`, a control it refuses (given the control with those criteria) is read and
    checked like the others, but not bound to its check: it goes to `Catalog.unbound`, and
    its check's provider is not imported for it. A run binds only the controls it runs.
    """
    root = Path(str(catalog_root()))
    extra = list(extra_dirs)
    for d in extra:
        if not d.is_dir():
            raise ConfigError("control folder does not exist", file=d)
    catalog = Catalog(
        frameworks=load_frameworks([root / FRAMEWORKS_DIR, *(d / FRAMEWORKS_DIR for d in extra)])
    )
    index = reference_index(catalog.frameworks)
    files: list[Path] = []
    if builtin:
        files += control_files(root)
    for d in extra:
        files += control_files(d)
    errors: list[ConfigError] = []
    first: dict[str, tuple[Path, int]] = {}
    for path in files:
        try:
            control, line, loaded = _load(path, catalog.frameworks, index, only)
        except (ConfigError, ConfigErrors) as exc:
            errors += exc.errors
            continue
        if control.id in first:
            where, at = first[control.id]
            errors.append(
                ConfigError(
                    f"duplicate control id {control.id!r}; first defined in {where}:{at}",
                    file=path,
                    line=line,
                    field="id",
                )
            )
            continue
        first[control.id] = (path, line)
        if loaded is None:
            catalog.unbound[control.id] = control
        else:
            catalog.controls[control.id] = loaded
    if errors:
        raise ConfigErrors(errors)
    return catalog


def control_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.yaml")
        if not NOT_CONTROLS.intersection(p.relative_to(root).parts[:-1])
    )


def _load(
    path: Path,
    frameworks: Mapping[str, Framework],
    index: ReferenceIndex,
    only: Callable[[Control], bool] | None,
) -> tuple[Control, int, LoadedControl | None]:
    """A control file of the catalog: its control with its derived criteria, the line it
    starts on, and the control bound to its check unless `only` refuses it."""
    doc, control, problems = _read_control(path, frameworks)
    if problems:
        _bound(path, doc, control, problems)  # raises them, with its binding's own
    control = control.model_copy(update={"frameworks": control_criteria(control, index)})
    if only is not None and not only(control):
        return control, doc.line(()), None
    loaded = _bound(path, doc, control, [])
    return control, loaded.line, loaded


def load_control(path: Path, frameworks: Mapping[str, Framework]) -> LoadedControl:
    """One control file, checked and bound to its check; ConfigErrors names every problem
    of the file."""
    doc, control, problems = _read_control(path, frameworks)
    return _bound(path, doc, control, problems)


def _read_control(
    path: Path, frameworks: Mapping[str, Framework]
) -> tuple[YamlDocument, Control, list[ConfigError]]:
    """A control file's document, its control and the problems found short of binding it
    (raised at once when it is not a control at all)."""
    doc = read_yaml(path)
    schema_errors = doc.schema_errors(control_schema())
    if schema_errors:
        raise schema_errors
    control = Control.model_validate(doc.data)
    # Every problem of the file in one pass: one does not hide the next.
    errors: list[ConfigError] = []
    if control.id != path.stem:
        errors.append(
            doc.error(
                f"control id {control.id!r} does not match the file name; expected {path.stem!r}",
                ["id"],
            )
        )
    errors += _framework_errors(doc, control, frameworks)
    return doc, control, errors


def _bound(
    path: Path, doc: YamlDocument, control: Control, problems: list[ConfigError]
) -> LoadedControl:
    errors = list(problems)
    try:
        evaluate, permissions, params = bind(control, control.params, doc)
    except (ConfigError, ConfigErrors) as exc:
        errors += exc.errors
    if errors:
        raise ConfigErrors(errors)
    return LoadedControl(control, path, doc.line(()), evaluate, permissions, params)


def bind(
    control: Control, params: dict[str, Any], doc: YamlDocument, params_at: tuple[str, ...] = ()
) -> tuple[Evaluator, tuple[str, ...], dict[str, Any]]:
    """Turn a control into an evaluator: its check with validated params, or its compiled rule.

    `doc` and `params_at` say where `params` were written, for error messages (a profile's
    override lives in the profile, not in the control file).
    """
    params_at = params_at or ("params",)
    if control.rule is not None:
        if params:
            raise doc.error("params apply to check functions; a rule takes none", params_at)
        try:
            rule = compile_rule(control.rule)
        except RuleError as exc:
            raise ConfigErrors(
                [doc.error(e.message, ("rule", *e.location)) for e in exc.every]
            ) from None
        return rule, (), {}
    assert control.check is not None  # the schema requires check or rule
    try:
        spec = registry.get_check(control.check)
    except registry.RegistryError as exc:
        known = ", ".join(sorted(registry.checks())) or "none"
        raise doc.error(f"{exc}; registered checks: {known}", ["check"]) from None
    if spec.resource != control.resource:
        raise doc.error(
            f"check {spec.name!r} applies to {spec.resource!r}, not to {control.resource!r}",
            ["resource"],
        )
    try:
        bound: BaseModel = spec.params.model_validate(params)
    except ValidationError as exc:
        raise _pydantic_errors(doc, exc, params_at) from None
    func = spec.func

    def evaluate(resource: dict[str, Any], now: datetime) -> Result:
        return func(resource, bound)

    return evaluate, spec.permissions, bound.model_dump(mode="json")


def _framework_errors(
    doc: YamlDocument, control: Control, frameworks: Mapping[str, Framework]
) -> list[ConfigError]:
    errors = []
    for fw, crits in control.frameworks.items():
        catalog = frameworks.get(fw)
        if catalog is None:
            errors.append(
                doc.error(
                    f"unknown framework {fw!r}; expected one of {', '.join(frameworks)}",
                    ["frameworks", fw],
                    remediation="a framework of your own needs a file in frameworks/ "
                    "beside your controls (controls/frameworks/soc2.yaml shows the form)",
                )
            )
            continue
        known = [c.id for c in catalog.criteria]
        errors += [
            doc.error(
                f"unknown {fw} criterion {crit!r}; expected one of {', '.join(known)}",
                ["frameworks", fw, i],
            )
            for i, crit in enumerate(crits)
            if crit not in known
        ]
    return errors


def _pydantic_errors(
    doc: YamlDocument, exc: ValidationError, prefix: tuple[str | int, ...]
) -> ConfigErrors:
    return ConfigErrors(
        [doc.error(e["msg"], (*prefix, *e["loc"])) for e in exc.errors(include_url=False)]
    )
