"""Data-subject requests (access, export, erasure, rectification) against real datastores.

A data map (YAML, `assay dsr schema`) says which PostgreSQL and SQLite stores hold
personal data, how a subject is found (identities, relations) and how each column is
erased; it is checked against the live schema before anything runs. Every request is
planned first, runs set-based in one transaction per store, is verified afterwards, and
leaves PII-free records in the evidence ledger.

    with open_session(Path("datamap.yaml"), ledger_url="sqlite:///.assay/ledger.db",
                      key_path=Path(".assay/pseudonym.key")) as session:
        ids = session.identities([("email", "Alice@Example.com")])
        request = session.book.open_request("erasure", ids)
        session.book.advance(request, State.VERIFIED, method="reply from account address")
        print(session.erase(ids, request_id=request.id, dry_run=True).plan.summary())
        session.erase(ids, request_id=request.id)      # execute, then verify
"""

from assay.gdpr.access import AccessResult
from assay.gdpr.datamap import DataMap, datamap_schema
from assay.gdpr.dsr import (
    AccessOutcome,
    ErasureOutcome,
    RectifyOutcome,
    Session,
    lint_datamap,
    open_session,
)
from assay.gdpr.errors import (
    ConflictError,
    DataMapError,
    GdprError,
    IdentityError,
    PackageError,
    RequestError,
    ResidualDataError,
    SchemaMismatchError,
    StoreError,
)
from assay.gdpr.execute import ErasureResult, Residual
from assay.gdpr.identity import Identity, make_identities, parse_identity
from assay.gdpr.mapfile import LoadedMap, load_datamap, parse_datamap
from assay.gdpr.model import Finding, Resolved
from assay.gdpr.package import unpack
from assay.gdpr.plan import ErasurePlan
from assay.gdpr.rectify import Assignment, parse_assignment
from assay.gdpr.requests import Request, RequestBook, State

__all__ = [
    "AccessOutcome",
    "AccessResult",
    "Assignment",
    "ConflictError",
    "DataMap",
    "DataMapError",
    "ErasureOutcome",
    "ErasurePlan",
    "ErasureResult",
    "Finding",
    "GdprError",
    "Identity",
    "IdentityError",
    "LoadedMap",
    "PackageError",
    "RectifyOutcome",
    "Request",
    "RequestBook",
    "RequestError",
    "Residual",
    "ResidualDataError",
    "Resolved",
    "SchemaMismatchError",
    "Session",
    "State",
    "StoreError",
    "datamap_schema",
    "lint_datamap",
    "load_datamap",
    "make_identities",
    "open_session",
    "parse_assignment",
    "parse_datamap",
    "parse_identity",
    "unpack",
]
