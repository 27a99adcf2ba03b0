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

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
