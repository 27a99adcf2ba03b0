"""The engine: from a profile to verdicts, evidence and reports, and the `assay` CLI.

The pipeline, one module a step:

- `catalog` and `planner`: load and validate the controls (YAML against the shipped
  schema) and the profile, and plan which controls run on which targets;
- `collect`: run the providers' collectors on a bounded pool into a `Snapshot` (or read
  and write one as JSON lines);
- `evaluate`: run every planned control on every resource of its type into `Finding`s,
  waivers applied, scores per framework criterion;
- `run`: compare with the baseline (`changes`), gate, and append the run to the evidence
  ledger in one transaction; `report` is the run as every output format sees it, and
  `formats` holds one module per format;
- `cli` and `cli_*`: the command line, the only place errors become exit codes.

    plan = make_plan(Path("assay.yaml"))
    report = execute(plan, collect(plan), ledger_url="sqlite:///.assay/ledger.db",
                     fail_on=Severity.HIGH, profile="assay.yaml")
    FORMATS["sarif"](report, sys.stdout)
"""

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
