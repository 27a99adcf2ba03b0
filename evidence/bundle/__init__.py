"""Evidence bundles: a range of the ledger an auditor verifies offline with one public key.

`format` is the layout (files, manifest, signature); `export` writes a bundle;
`verify` checks one, reading every member within a bound; `records` walks its records
(in parallel chunks); `views` builds the OSCAL and summary views while records stream.
"""

from assay.evidence.bundle.export import ExportResult, Selection, export_bundle, parse_when
from assay.evidence.bundle.verify import BundleReport, verify_bundle

__all__ = [
    "BundleReport",
    "ExportResult",
    "Selection",
    "export_bundle",
    "parse_when",
    "verify_bundle",
]
