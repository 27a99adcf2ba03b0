"""The demo wing: `assay demo`, and the emulated systems it runs against.

Above the engine and apart from the product: nothing in `assay.checks`, `assay.evidence`,
`assay.gdpr` or `assay.engine` imports it, and it is the only package that reads the
example data (`assay.examples`). The tests and benchmarks use the same pieces.

- `run`: the `assay demo` flow; `command`: its click command, which the CLI finds
  through the ``assay.commands`` entry point group;
- `aws_emulator` and `aws_account`: moto's HTTP server on 127.0.0.1 and the seeded accounts;
- `kubernetes`: the example cluster's manifests as a target;
- `local_postgres` and `postgres`: a throwaway PostgreSQL server and its tenant schema;
- `shop` and `dsr`: the example shop database and the data-subject requests run on it.
"""

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
