"""botocore's service models, held compactly.

A client keeps its service's model (the JSON botocore ships) for as long as it lives: as
botocore loads them, 62 MB for the 25 services of the built-in catalog, 15 MB for EC2
alone. Loaded through `compact_models`, a model takes about 40% of that: plain dicts where
botocore builds OrderedDicts (a dict keeps its order), each string of a file one object
however often the file repeats it, and documentation, which only client docstrings show,
left empty. The JSON decoder hands each object over as it parses it, so the full-size
model never exists, not even while loading. `ModelLoader.forget` drops a service's models
once no client needs them (`AwsConnection.collecting`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import IO, Any

import botocore.session
from botocore.loaders import JSONFileLoader, Loader, create_loader

# The key whose text is for people (docstrings, generated documentation), never for a call.
_PROSE = "documentation"


def compact_models(session: botocore.session.Session) -> ModelLoader:
    """Make `session` load service models compactly, and return its loader: call it before
    the session makes its first client. The search paths stay botocore's own
    (AWS_DATA_PATH included)."""
    loader = ModelLoader(file_loader=CompactJSONFiles(), include_default_search_paths=False)
    # Where botocore's own loader for the session would look, in the same order.
    loader.search_paths.extend(create_loader(session.get_config_variable("data_path")).search_paths)
    session.register_component("data_loader", loader)
    return loader


class ModelLoader(Loader):
    """botocore's loader, which can forget the models it cached for a service."""

    # What botocore's `instance_cache` keeps, set by Loader.__init__.
    _cache: dict[tuple[Any, ...], Any]

    def forget(self, service: str) -> None:
        """Drop what this loader cached for `service` (its model, endpoint rules,
        paginators): a client made later loads them again."""
        # botocore's `instance_cache` keys an entry by method name, then arguments: a
        # service's name, or the path of one of its files (``ec2/2016-11-15/service-2``).
        # A client may load its paginators meanwhile: the keys are read at once, as a list.
        for key in list(self._cache):
            if _of_service(key, service):
                self._cache.pop(key, None)


def _of_service(key: tuple[Any, ...], service: str) -> bool:
    first = key[1] if len(key) > 1 else None
    return isinstance(first, str) and (first == service or first.startswith(f"{service}/"))


class CompactJSONFiles(JSONFileLoader):
    """botocore's JSON file loader, building compact objects (see the module's docstring)."""

    def _load_file(self, full_path: str, open_method: Callable[..., IO[bytes]]) -> Any:
        # botocore's own, but for the objects built: it tries each extension in turn.
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            return json.loads(fp.read(), object_pairs_hook=_Compact())


class _Compact:
    """The decoder's hook for one file: plain dicts, prose emptied, and each string one
    object however often the file repeats it (held by this hook and dropped with it,
    where `sys.intern` would keep a table as large as every model ever loaded)."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        one = self.strings.setdefault
        return {one(k, k): "" if k == _PROSE else self.shared(v) for k, v in pairs}

    def shared(self, value: Any) -> Any:
        """`value`, with its strings (and those of a list) made the file's one object for
        each: a list is changed in place, the decoder made it for this object alone."""
        one = self.strings.setdefault
        if isinstance(value, str):
            return one(value, value)
        if isinstance(value, list):
            value[:] = [one(item, item) if isinstance(item, str) else item for item in value]
        return value
