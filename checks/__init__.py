"""The check API: what a plugin author imports.

from assay.checks import Result, check

@check("acme.widget.locked", resource="acme.widget", permissions=["acme:Describe"])
def widget_locked(resource, params):
    ...
"""

from assay.checks.registry import (
    CheckSpec,
    CollectorSpec,
    NoParams,
    ProviderSpec,
    RegistryError,
    check,
    collector,
    provider,
)
from assay.checks.result import (
    MissingEvidence,
    Result,
    Status,
    attribute,
    collection_error,
)
from assay.checks.rules import Rule, RuleError, compile_rule

__all__ = [
    "CheckSpec",
    "CollectorSpec",
    "MissingEvidence",
    "NoParams",
    "ProviderSpec",
    "RegistryError",
    "Result",
    "Rule",
    "RuleError",
    "Status",
    "attribute",
    "check",
    "collection_error",
    "collector",
    "compile_rule",
    "provider",
]
