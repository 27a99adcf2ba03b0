"""The evidence ledger: canonical records in an append-only, hash-chained Merkle log.

Every record body is RFC 8785 canonical JSON holding the entry's fields plus ``v``,
``seq`` and ``prev`` (the SHA-256 of the previous body); bodies are stored byte for
byte. An RFC 6962 Merkle tree over the bodies gives inclusion and consistency proofs;
signed checkpoints (C2SP tlog-checkpoint, Ed25519) let an auditor holding only the
public key detect any edit, deletion, truncation, rollback or re-signed forgery.

    with open_ledger("sqlite:///evidence/ledger.db") as ledger:
        ledger.append([{"kind": "result", "at": "2024-05-01T02:00:00Z", ...}])
        key = load_signing_key(Path(".assay/signing.key"))
        sign_checkpoint(ledger, key)
        report = verify_ledger(ledger, [VerifierKey.parse(vkey)])
        export_bundle(ledger, Path("q2.zip"), key, Selection(since=parse_when("2024-04-01")))
    report = verify_bundle(Path("q2.zip"), [VerifierKey.parse(vkey)])

Ledgers live in SQLite (a file) or PostgreSQL (``postgresql://...``); a bundle is a
zip of a range of records with the checkpoints and proofs an auditor needs to verify
it offline (`bundle.format`).
"""

from assay.evidence.backends.postgres import PostgresLedger
from assay.evidence.backends.sqlite import SQLiteLedger
from assay.evidence.bundle.export import ExportResult, Selection, export_bundle, parse_when
from assay.evidence.bundle.verify import BundleReport, verify_bundle
from assay.evidence.canonical import (
    MAX_SAFE_INT,
    CanonicalError,
    canonical,
    parse_canonical,
    to_record_value,
)
from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.checkpoint_log import (
    CHECKPOINT_LOG_ENV,
    DEFAULT_CHECKPOINT_LOG,
    CheckpointLog,
    DirectoryLog,
    S3Log,
    resolve_checkpoint_log,
)
from assay.evidence.keys import (
    DEFAULT_SIGNING_KEY,
    SIGNING_KEY_ENV,
    SigningKey,
    SigningKeyError,
    VerifierKey,
    create_signing_key,
    default_origin,
    load_signing_key,
    public_key_path,
    resolve_signing_key,
    write_signing_key,
)
from assay.evidence.ledger import SUPPORTED_URLS, Ledger, open_ledger
from assay.evidence.merkle import EMPTY_ROOT, ProofError
from assay.evidence.note import NoteError
from assay.evidence.pseudonym import (
    Pseudonymizer,
    PseudonymKeyError,
    contains_email,
    load_key,
    normalise_email,
    pseudonymise_emails,
)
from assay.evidence.record import (
    GENESIS_PREV,
    KEY_ROTATED,
    RESERVED_KEYS,
    TAIL_ADOPTED,
    Appended,
    LedgerDamagedError,
    LedgerError,
    StoredRecord,
    redact_url,
)
from assay.evidence.signing import (
    Signer,
    check_signing_key,
    rotate_key,
    sign_checkpoint,
)
from assay.evidence.tlog_proof import InclusionProof, prove
from assay.evidence.verify import LogVerificationError, VerificationError, VerifyReport, verify
from assay.evidence.verify_ledger import LedgerReport, verify_ledger

__all__ = [
    "CHECKPOINT_LOG_ENV",
    "DEFAULT_CHECKPOINT_LOG",
    "DEFAULT_SIGNING_KEY",
    "EMPTY_ROOT",
    "GENESIS_PREV",
    "KEY_ROTATED",
    "MAX_SAFE_INT",
    "RESERVED_KEYS",
    "SIGNING_KEY_ENV",
    "SUPPORTED_URLS",
    "TAIL_ADOPTED",
    "Appended",
    "BundleReport",
    "CanonicalError",
    "Checkpoint",
    "CheckpointError",
    "CheckpointLog",
    "DirectoryLog",
    "ExportResult",
    "InclusionProof",
    "Ledger",
    "LedgerDamagedError",
    "LedgerError",
    "LedgerReport",
    "LogVerificationError",
    "NoteError",
    "PostgresLedger",
    "ProofError",
    "PseudonymKeyError",
    "Pseudonymizer",
    "S3Log",
    "SQLiteLedger",
    "Selection",
    "Signer",
    "SigningKey",
    "SigningKeyError",
    "StoredRecord",
    "VerificationError",
    "VerifierKey",
    "VerifyReport",
    "canonical",
    "check_signing_key",
    "contains_email",
    "create_signing_key",
    "default_origin",
    "export_bundle",
    "load_key",
    "load_signing_key",
    "normalise_email",
    "open_ledger",
    "parse_canonical",
    "parse_when",
    "prove",
    "pseudonymise_emails",
    "public_key_path",
    "redact_url",
    "resolve_checkpoint_log",
    "resolve_signing_key",
    "rotate_key",
    "sign_checkpoint",
    "to_record_value",
    "verify",
    "verify_bundle",
    "verify_ledger",
    "write_signing_key",
]
