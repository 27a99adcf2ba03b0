"""Example profiles, manifests and databases, shipped so that `assay demo` can use them."""

from importlib.resources import files
from importlib.resources.abc import Traversable


def examples_root() -> Traversable:
    return files(__name__)
