"""The evidence ledger: canonical records in an append-only, hash-chained Merkle log.

Every record body is RFC 8785 canonical JSON holding the entry's fields plus ``v``,
``seq`` and ``prev`` (the SHA-256 of the previous body); bodies are stored byte for
byte. An RFC 6962 Merkle tree over the bodies gives inclusion and consistency proofs;
signed checkpoints (C2SP tlog-checkpoint, Ed25519) let an auditor holding only the
public key detect any edit, deletion, truncation, rollback or re-signed forgery.

    with open_ledger("sqlite:///evidence/ledger.db") as ledger:
        ledger.append([{"kind": "result", "at": "2024-05-01T02:00:00Z", ...}])
        sign_checkpoint(ledger, load_signing_key(Path(".assay/signing.key")))
        report = verify_ledger(ledger, [VerifierKey.parse(vkey)])
"""

from assay.evidence.canonical import (
    MAX_SAFE_INT,
    CanonicalError,
    canonical,
    parse_canonical,
    to_record_value,
)
from assay.evidence.checkpoint import Checkpoint, CheckpointError
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
from assay.evidence.ledger import SUPPORTED_URLS, Ledger, open_ledger, redact_url
from assay.evidence.merkle import EMPTY_ROOT, ProofError
from assay.evidence.note import NoteError
from assay.evidence.pseudonym import Pseudonymizer, PseudonymKeyError, load_key
from assay.evidence.record import (
    GENESIS_PREV,
    KEY_ROTATED,
    RESERVED_KEYS,
    LedgerError,
    StoredRecord,
)
from assay.evidence.signing import check_signing_key, rotate_key, sign_checkpoint
from assay.evidence.sqlite import SQLiteLedger
from assay.evidence.tlog_proof import InclusionProof, prove
from assay.evidence.verify import VerificationError, VerifyReport, verify
from assay.evidence.verify_ledger import LedgerReport, LogVerificationError, verify_ledger

__all__ = [
    "DEFAULT_SIGNING_KEY",
    "EMPTY_ROOT",
    "GENESIS_PREV",
    "KEY_ROTATED",
    "MAX_SAFE_INT",
    "RESERVED_KEYS",
    "SIGNING_KEY_ENV",
    "SUPPORTED_URLS",
    "CanonicalError",
    "Checkpoint",
    "CheckpointError",
    "InclusionProof",
    "Ledger",
    "LedgerError",
    "LedgerReport",
    "LogVerificationError",
    "NoteError",
    "ProofError",
    "PseudonymKeyError",
    "Pseudonymizer",
    "SQLiteLedger",
    "SigningKey",
    "SigningKeyError",
    "StoredRecord",
    "VerificationError",
    "VerifierKey",
    "VerifyReport",
    "canonical",
    "check_signing_key",
    "create_signing_key",
    "default_origin",
    "load_key",
    "load_signing_key",
    "open_ledger",
    "parse_canonical",
    "prove",
    "public_key_path",
    "redact_url",
    "resolve_signing_key",
    "rotate_key",
    "sign_checkpoint",
    "to_record_value",
    "verify",
    "verify_ledger",
    "write_signing_key",
]
