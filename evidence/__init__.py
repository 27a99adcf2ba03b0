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

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
