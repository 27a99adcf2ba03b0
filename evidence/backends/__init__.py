"""Where a ledger is stored: one module per database, each with its schema migrations.

`sqlite` (a file, the default) and `postgres` (production, many writers) implement the
`assay.evidence.ledger.Ledger` protocol with the same tables and the same guarantees.
"""

from assay.evidence.backends.postgres import PostgresLedger
from assay.evidence.backends.sqlite import SQLiteLedger

__all__ = ["PostgresLedger", "SQLiteLedger"]
