"""Where a ledger is stored: one module per database, each with its schema migrations.

`sqlite` (a file, the default) and `postgres` (production, many writers) implement the
`assay.evidence.ledger.Ledger` protocol with the same tables and the same guarantees.
Both are a `dbapi.SqlLedger`, which holds the protocol's methods once; each backend
adds its statements' dialect and what it really does its own way (opening, migrating,
serialising appends, bulk inserts).
"""

from assay.evidence.backends.postgres import PostgresLedger
from assay.evidence.backends.sqlite import SQLiteLedger

__all__ = ["PostgresLedger", "SQLiteLedger"]
