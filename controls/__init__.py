"""The built-in control catalog (YAML), framework catalogs and profiles, shipped as package data."""

from importlib.resources import files
from importlib.resources.abc import Traversable


def catalog_root() -> Traversable:
    return files(__name__)
