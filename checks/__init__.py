"""The check API: what a plugin author imports.

from assay.checks import Result, check

@check("acme.widget.locked", resource="acme.widget", permissions=["acme:Describe"])
def widget_locked(resource, params):
    ...
"""

import lazy_loader

# What this package exports is declared once, in __init__.pyi; each name is imported
# on first use, so a command's --help does not pay for the whole engine.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
