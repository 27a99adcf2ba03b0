"""The Jinja2 environment the HTML report and the web console share: what a template over
any loader may rely on."""

from __future__ import annotations

from jinja2 import DictLoader

from assay.engine.formats.html import template_environment

XSS = "<script>alert(1)</script>"


def test_every_template_is_autoescaped_whatever_its_name() -> None:
    env = template_environment(
        DictLoader({"page.html.j2": "<p>{{ x }}</p>", "notes.txt": "{{ x }}"})
    )
    for name in ("page.html.j2", "notes.txt"):
        out = env.get_template(name).render(x=XSS)
        assert XSS not in out and "&lt;script&gt;" in out, name
    assert "&lt;script&gt;" in env.from_string("{{ x }}").render(x=XSS)


def test_counted_filter_and_trimmed_blocks() -> None:
    env = template_environment(
        DictLoader(
            {
                "t.html.j2": (
                    "  {% for n in ns %}\n{{ n | counted('record') }};"
                    " {{ n | counted('hash', 'hashes') }}\n  {% endfor %}\n"
                )
            }
        )
    )
    out = env.get_template("t.html.j2").render(ns=[1, 2])
    assert out == "1 record; 1 hash\n2 records; 2 hashes\n"
