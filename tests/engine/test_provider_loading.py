"""A run loads the providers of the controls it runs, and no others; whoever asks for the
whole catalog still gets all of it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assay.controls import catalog_root
from assay.engine.catalog import load_catalog
from assay.engine.planner import make_plan
from assay.errors import ConfigErrors

AWS_PROFILE = """\
controls: {tags: [aws]}
targets:
  - {name: prod, provider: aws, regions: [eu-west-1]}
"""

# Run in a fresh interpreter: the test process has imported every provider long ago.
PLAN_IN_A_FRESH_PROCESS = """
import json, sys
from pathlib import Path
from assay.checks import registry
from assay.engine.planner import make_plan

plan = make_plan(Path(sys.argv[1]))
loaded = sorted(
    m for m in ("psycopg", "kubernetes", "assay.checks.aws", "assay.checks.k8s",
                "assay.checks.postgres")
    if m in sys.modules
)
registry.get_collector("aws.s3.bucket")
registry.get_provider("aws")
after_lookups = sorted(m for m in ("psycopg", "assay.checks.postgres") if m in sys.modules)
every_check = sorted({name.split(".")[0] for name in registry.checks()})
print(json.dumps({
    "controls": len(plan.controls),
    "providers": sorted({c.control.provider for c in plan.controls}),
    "loaded": loaded,
    "after_lookups": after_lookups,
    "every_check": every_check,
}))
"""


def test_a_plan_over_aws_controls_imports_no_other_provider(tmp_path: Path) -> None:
    profile = tmp_path / "assay.yaml"
    profile.write_text(AWS_PROFILE)

    out = subprocess.run(
        [sys.executable, "-c", PLAN_IN_A_FRESH_PROCESS, str(profile)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout)

    assert found["controls"] == len(list((Path(str(catalog_root())) / "aws").rglob("*.yaml")))
    assert found["providers"] == ["aws"]
    assert found["loaded"] == ["assay.checks.aws"]
    assert found["after_lookups"] == []
    # Asked for every check, the registry loads every provider.
    assert found["every_check"] == ["aws", "k8s", "postgres"]


def test_the_controls_a_plan_binds_are_those_of_the_whole_catalog(tmp_path: Path) -> None:
    profile = tmp_path / "assay.yaml"
    profile.write_text(AWS_PROFILE)

    plan = make_plan(profile)
    whole = load_catalog()

    assert plan.controls
    for loaded in plan.controls:
        same = whole.controls[loaded.control.id]
        assert loaded.control == same.control
        assert (loaded.path, loaded.line) == (same.path, same.line)
        assert (loaded.permissions, loaded.params) == (same.permissions, same.params)
    assert plan.catalog.ids() == set(whole.controls)
    assert not set(plan.catalog.controls) & set(plan.catalog.unbound)
    assert all(c.provider != "aws" for c in plan.catalog.unbound.values())


UNRUN_CONTROL = """\
id: test-widget-unrun
title: A widget control no AWS run runs
severity: low
frameworks: {soc2: [CC6.1]}
resource: k8s.workload
check: k8s.workload.no_such_check
remediation: Register the check.
"""


def controls_with(tmp_path: Path, text: str, name: str = "test-widget-unrun") -> Path:
    folder = tmp_path / "mine"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    profile = tmp_path / "assay.yaml"
    profile.write_text("controls_dirs: [mine]\n" + AWS_PROFILE)
    return profile


def test_a_control_the_run_does_not_run_is_read_but_not_bound(tmp_path: Path) -> None:
    profile = controls_with(tmp_path, UNRUN_CONTROL)

    plan = make_plan(profile)

    assert "test-widget-unrun" in plan.catalog.unbound
    assert "test-widget-unrun" not in {c.control.id for c in plan.controls}
    # A run that runs it binds it, as the whole catalog does: its check is missing.
    selecting = tmp_path / "selecting.yaml"
    selecting.write_text("controls_dirs: [mine]\ncontrols: {ids: [test-widget-unrun]}\n")
    for load in (lambda: make_plan(selecting), lambda: load_catalog([tmp_path / "mine"])):
        with pytest.raises(ConfigErrors) as info:
            load()
        [err] = info.value.errors
        assert err.file is not None and err.file.endswith("test-widget-unrun.yaml")
        assert (err.line, err.field) == (6, "check")
        assert "no check named 'k8s.workload.no_such_check'" in err.message


def test_a_control_the_run_does_not_run_must_still_be_well_formed(tmp_path: Path) -> None:
    profile = controls_with(tmp_path, UNRUN_CONTROL.replace("severity: low", "severity: dire"))

    with pytest.raises(ConfigErrors) as info:
        make_plan(profile)

    [err] = info.value.errors
    assert err.file is not None and err.file.endswith("test-widget-unrun.yaml")
    assert (err.line, err.field) == (3, "severity")


def test_a_duplicate_id_among_controls_the_run_does_not_run_is_an_error(
    tmp_path: Path,
) -> None:
    profile = controls_with(tmp_path, UNRUN_CONTROL)
    other = tmp_path / "mine" / "more"
    other.mkdir()
    (other / "test-widget-unrun.yaml").write_text(UNRUN_CONTROL)

    with pytest.raises(ConfigErrors) as info:
        make_plan(profile)

    [err] = info.value.errors
    assert err.field == "id"
    assert "duplicate control id 'test-widget-unrun'; first defined in" in err.message


def test_a_profile_may_name_a_control_it_does_not_run(tmp_path: Path) -> None:
    profile = controls_with(tmp_path, UNRUN_CONTROL)
    profile.write_text(
        profile.read_text()
        + textwrap.dedent(
            """\
            waivers:
              - id: W-1
                control: test-widget-unrun
                reason: accepted as a known risk
                approver: sec@example.com
                expires: 2999-01-01
            """
        )
    )

    plan = make_plan(profile)

    assert [w.id for w in plan.profile.waivers] == ["W-1"]
