"""The web console, `assay serve`: the evidence ledger in a browser, and the DSR queue.

Above the engine, like the demo: nothing in `assay.checks`, `assay.evidence`,
`assay.gdpr` or `assay.engine` imports it.

- `command`: the click commands (through the ``assay.commands`` entry point group);
  `launch` and `server`: from options to a console served by uvicorn;
- `app`: the ASGI app (FastAPI), security headers and sign-in; `auth`, `tokens`,
  `sessions`, `proxy`: who is asking and what their role may do;
- `data`: what the pages show, read through the ledger's run index; `pages`, `api`:
  the HTML pages and the JSON API under /api/v1; `render`: their templates;
- `console`: the state they share (the ledger, trusted keys, catalog texts).
"""
