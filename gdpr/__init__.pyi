"""Exports of assay.gdpr, imported on first use (see __init__.py)."""

from .access import AccessResult as AccessResult
from .datamap import DataMap as DataMap
from .datamap import datamap_schema as datamap_schema
from .dsr import (
    AccessOutcome as AccessOutcome,
)
from .dsr import (
    ErasureOutcome as ErasureOutcome,
)
from .dsr import (
    RectifyOutcome as RectifyOutcome,
)
from .dsr import (
    Session as Session,
)
from .dsr import (
    lint_datamap as lint_datamap,
)
from .dsr import (
    open_session as open_session,
)
from .errors import (
    ConflictError as ConflictError,
)
from .errors import (
    DataMapError as DataMapError,
)
from .errors import (
    GdprError as GdprError,
)
from .errors import (
    IdentityError as IdentityError,
)
from .errors import (
    PackageError as PackageError,
)
from .errors import (
    RequestError as RequestError,
)
from .errors import (
    ResidualDataError as ResidualDataError,
)
from .errors import (
    SchemaMismatchError as SchemaMismatchError,
)
from .errors import (
    StoreError as StoreError,
)
from .execute import ErasureResult as ErasureResult
from .execute import Residual as Residual
from .identity import (
    Identity as Identity,
)
from .identity import (
    make_identities as make_identities,
)
from .identity import (
    parse_identity as parse_identity,
)
from .mapfile import (
    LoadedMap as LoadedMap,
)
from .mapfile import (
    load_datamap as load_datamap,
)
from .mapfile import (
    parse_datamap as parse_datamap,
)
from .model import Finding as Finding
from .model import Resolved as Resolved
from .package import unpack as unpack
from .plan import ErasurePlan as ErasurePlan
from .rectify import Assignment as Assignment
from .rectify import parse_assignment as parse_assignment
from .requests import Request as Request
from .requests import RequestBook as RequestBook
from .requests import State as State
