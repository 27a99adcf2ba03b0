"""Exports of assay.engine, imported on first use (see __init__.py)."""

from .collect import (
    Snapshot as Snapshot,
)
from .collect import (
    collect as collect,
)
from .collect import (
    read_snapshot as read_snapshot,
)
from .collect import (
    write_snapshot as write_snapshot,
)
from .evaluate import Finding as Finding
from .evaluate import evaluate as evaluate
from .formats import FORMATS as FORMATS
from .planner import Filters as Filters
from .planner import Plan as Plan
from .planner import make_plan as make_plan
from .report import RunReport as RunReport
from .run import execute as execute
from .severity import Severity as Severity
