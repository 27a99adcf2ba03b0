"""Pages from Jinja2 templates (autoescaped), with what every page's frame needs."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader

from assay.engine.formats.html import template_environment
from assay.serve.tokens import Permission


def _pct(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.0%}"


@cache
def environment() -> Environment:
    env = template_environment(PackageLoader("assay.serve", "templates"))
    # As the record holds it, quotes and all: autoescaping makes it safe in the page.
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["pct"] = _pct
    env.filters["words"] = lambda value: str(value or "").replace("_", " ")
    env.globals["Permission"] = Permission
    env.globals["querystring"] = lambda params: urlencode({k: v for k, v in params.items() if v})
    return env


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """`template` rendered with `context`, the viewer (if any) and the request's path."""
    viewer = getattr(request.state, "viewer", None)
    html = (
        environment().get_template(template).render(viewer=viewer, path=request.url.path, **context)
    )
    return HTMLResponse(html, status_code=status_code)
