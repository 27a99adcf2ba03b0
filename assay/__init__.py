"""assay: policy-as-code compliance and audit engine.

Subpackages: `assay.checks` (the check API for plugin authors), `assay.engine`
(models, loader, runner, reports, CLI), `assay.evidence` (the evidence ledger),
`assay.gdpr` (data-subject requests), `assay.controls` (the built-in catalog),
and `assay.testing` (helpers for plugin authors' tests).
"""

__version__ = "0.1.0"
