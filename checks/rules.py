"""Declarative rules (being written)."""
from typing import Any


class RuleError(Exception):
    pass


class Rule:
    pass


def compile_rule(spec: Any) -> Rule:
    raise NotImplementedError
