"""Where a ledger is stored: one module per database, each with its schema migrations.

`sqlite` (a file, the default) and `postgres` (production, many writers) implement the
`assay.evidence.ledger.Ledger` protocol with the same tables and the same guarantees.
Both are a `dbapi.SqlLedger`, which holds the protocol's methods once; each backend
adds its statements' dialect and what it really does its own way (opening, migrating,
serialising appends, bulk inserts).
"""

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
