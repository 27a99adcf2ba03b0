"""Evidence bundles: a range of the ledger an auditor verifies offline with one public key.

`format` is the layout (files, manifest, signature); `export` writes a bundle;
`verify` checks one, reading every member within a bound; `records` walks its records
(in parallel chunks); `views` builds the OSCAL and summary views while records stream.
"""

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
