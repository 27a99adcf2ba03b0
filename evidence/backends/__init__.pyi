"""Exports of assay.evidence.backends, imported on first use (see __init__.py)."""

from .postgres import PostgresLedger as PostgresLedger
from .sqlite import SQLiteLedger as SQLiteLedger
