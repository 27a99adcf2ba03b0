"""The evidence ledger: canonical records in an append-only, hash-chained log.

Every record body is RFC 8785 canonical JSON holding the entry's fields plus ``v``,
``seq`` and ``prev`` (the SHA-256 of the previous body); bodies are stored byte for
byte and `verify` re-hashes them offline, naming the first record that does not fit.

    with open_ledger("sqlite:///evidence/ledger.db") as ledger:
        ledger.append([{"kind": "result", "at": "2024-05-01T02:00:00Z", ...}])
        report = verify(ledger.records())
"""

from assay.evidence.canonical import (
    MAX_SAFE_INT,
    CanonicalError,
    canonical,
    parse_canonical,
    to_record_value,
)
from assay.evidence.ledger import SUPPORTED_URLS, Ledger, open_ledger, redact_url
from assay.evidence.pseudonym import Pseudonymizer, PseudonymKeyError, load_key
from assay.evidence.record import GENESIS_PREV, RESERVED_KEYS, LedgerError, StoredRecord
from assay.evidence.sqlite import SQLiteLedger
from assay.evidence.verify import VerificationError, VerifyReport, verify

__all__ = [
    "GENESIS_PREV",
    "MAX_SAFE_INT",
    "RESERVED_KEYS",
    "SUPPORTED_URLS",
    "CanonicalError",
    "Ledger",
    "LedgerError",
    "PseudonymKeyError",
    "Pseudonymizer",
    "SQLiteLedger",
    "StoredRecord",
    "VerificationError",
    "VerifyReport",
    "canonical",
    "load_key",
    "open_ledger",
    "parse_canonical",
    "redact_url",
    "to_record_value",
    "verify",
]
