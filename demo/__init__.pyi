"""Exports of assay.demo, imported on first use (see __init__.py)."""

from .run import run_demo as run_demo
