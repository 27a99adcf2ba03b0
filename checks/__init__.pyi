"""Exports of assay.checks, imported on first use (see __init__.py)."""

from .registry import (
    CheckSpec as CheckSpec,
)
from .registry import (
    CollectorSpec as CollectorSpec,
)
from .registry import (
    NoParams as NoParams,
)
from .registry import (
    ProviderSpec as ProviderSpec,
)
from .registry import (
    RegistryError as RegistryError,
)
from .registry import (
    check as check,
)
from .registry import (
    collector as collector,
)
from .registry import (
    provider as provider,
)
from .result import (
    MissingEvidence as MissingEvidence,
)
from .result import (
    Result as Result,
)
from .result import (
    Status as Status,
)
from .result import (
    attribute as attribute,
)
from .result import (
    collection_error as collection_error,
)
from .rules import Rule as Rule
from .rules import RuleError as RuleError
from .rules import compile_rule as compile_rule
