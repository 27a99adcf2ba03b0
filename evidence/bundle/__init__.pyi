"""Exports of assay.evidence.bundle, imported on first use (see __init__.py)."""

from .export import (
    ExportResult as ExportResult,
)
from .export import (
    Selection as Selection,
)
from .export import (
    export_bundle as export_bundle,
)
from .export import (
    parse_when as parse_when,
)
from .records import WorkerLost as WorkerLost
from .verify import BundleReport as BundleReport
from .verify import verify_bundle as verify_bundle
