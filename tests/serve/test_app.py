"""The console's HTTP surface without a browser: who is let in, headers, CSRF, the API."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import Evidence, open_request
from starlette.testclient import TestClient

from assay.evidence import open_ledger
from assay.serve.app import create_app
from assay.serve.console import Console
from assay.serve.dsr import DsrDesk
from assay.serve.proxy import ProxyIdentity
from assay.serve.sessions import Identity, Sessions
from assay.serve.tokens import Role

PAGES = ("/runs", "/diff", "/waivers", "/evidence")


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(create_app(console), base_url="http://127.0.0.1") as made:
        yield made


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, token: str) -> None:
    form = client.get("/login")
    nonce = form.text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    res = client.post("/login", data={"nonce": nonce, "token": token, "next": "/"})
    assert res.status_code == 200, res.text


def csrf_of(client: TestClient, path: str) -> str:
    return client.get(path).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("path", [*PAGES, "/", "/records/1"])
def test_no_page_is_served_to_an_anonymous_visitor(client: TestClient, path: str) -> None:
    res = client.get(path, follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/openapi.json", "/api/v1/records/1"])
def test_no_api_answer_without_a_valid_token(
    client: TestClient, path: str, tokens: dict[Role, str]
) -> None:
    assert client.get(path).status_code == 401
    forged = tokens[Role.ADMIN][:-4] + "AAAA"
    assert client.get(path, headers=bearer(forged)).status_code == 401


def test_every_answer_carries_the_security_headers(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    for res in (
        client.get("/login"),
        client.get("/runs", headers=bearer(tokens[Role.AUDITOR])),
        client.get("/api/v1/runs", headers=bearer(tokens[Role.AUDITOR])),
        client.get("/static/console.css"),
    ):
        csp = res.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert res.headers["x-frame-options"] == "DENY"
        assert res.headers["x-content-type-options"] == "nosniff"


def test_pages_hold_no_inline_script_or_style(
    client: TestClient, tokens: dict[Role, str], evidence: Evidence
) -> None:
    sign_in(client, tokens[Role.AUDITOR])
    seq = client.get(f"/api/v1/runs/{evidence.runs[1]}/findings").json()["findings"][0]["seq"]
    for path in (*PAGES, f"/runs/{evidence.runs[1]}", f"/records/{seq}"):
        html = client.get(path).text
        for chunk in html.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert "<style" not in html and " style=" not in html, path


def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    sign_in(client, tokens[Role.AUDITOR])
    assert client.post("/evidence/verify", data={}).status_code == 403
    assert client.post("/evidence/verify", data={"csrf": "guess"}).status_code == 403
    assert client.post("/logout", data={"csrf": "guess"}).status_code == 403
    ok = client.post("/evidence/verify", data={"csrf": csrf_of(client, "/evidence")})
    assert ok.status_code == 200 and "Verif" in ok.text


def test_sign_in_needs_the_form_the_console_served(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    res = client.post("/login", data={"nonce": "x", "token": tokens[Role.AUDITOR]})
    assert res.status_code == 403
    assert "assay_session" not in client.cookies


def test_sign_in_comes_back_to_the_page_asked_for(
    client: TestClient, tokens: dict[Role, str], evidence: Evidence
) -> None:
    asked = f"/runs/{evidence.runs[1]}?status=fail&q=w"
    login = client.get(asked, follow_redirects=False).headers["location"]
    form = client.get(login)
    nonce = form.text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    target = form.text.split('name="next" value="', 1)[1].split('"', 1)[0]
    res = client.post(
        "/login",
        data={"nonce": nonce, "token": tokens[Role.AUDITOR], "next": html.unescape(target)},
        follow_redirects=False,
    )
    assert res.headers["location"] == asked


def test_sign_in_goes_back_only_to_a_page_of_the_console(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    form = client.get("/login")
    nonce = form.text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    res = client.post(
        "/login",
        data={"nonce": nonce, "token": tokens[Role.AUDITOR], "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert res.headers["location"] == "/runs"
    cookie = res.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_revoked_token_ends_its_sessions(console: Console, evidence: Evidence) -> None:
    token, entry = console.tokens.create("leaver", Role.AUDITOR, "2026-01-01T00:00:00Z")
    with TestClient(create_app(console), base_url="http://127.0.0.1") as client:
        sign_in(client, token)
        assert client.get("/runs").status_code == 200
        console.tokens.revoke(entry.id)
        assert client.get("/runs", follow_redirects=False).status_code == 303
        assert client.get("/api/v1/runs", headers=bearer(token)).status_code == 401


def test_a_one_time_link_signs_in_once(console: Console) -> None:
    secret = console.sessions.one_time_link(Identity("demo", Role.ADMIN, "one-time link"))
    with TestClient(create_app(console), base_url="http://127.0.0.1") as client:
        res = client.get(f"/login/once/{secret}")
        assert res.url.path == "/runs" and "demo · admin" in res.text
    with TestClient(create_app(console), base_url="http://127.0.0.1") as other:
        again = other.get(f"/login/once/{secret}")
        assert again.url.path == "/login"


def test_the_api_serves_runs_findings_and_proofs(
    client: TestClient, tokens: dict[Role, str], evidence: Evidence
) -> None:
    auth = bearer(tokens[Role.AUDITOR])
    runs = client.get("/api/v1/runs", headers=auth).json()
    assert [r["run"] for r in runs] == evidence.runs[::-1]
    assert runs[0]["score"] == 0.4 and runs[0]["complete"] is True
    run = client.get(f"/api/v1/runs/{evidence.runs[1]}", headers=auth).json()
    assert run["baseline"] == evidence.runs[0]
    assert run["changes"] == {"new_failure": 2, "fixed": 1, "still_failing": 2, "unchanged": 1}
    failing = client.get(
        f"/api/v1/runs/{evidence.runs[1]}/findings?status=fail&sort=resource", headers=auth
    ).json()
    assert failing["total"] == 3
    schemas = client.get("/api/v1/openapi.json", headers=auth).json()["components"]["schemas"]
    assert set(failing["findings"][0]) == set(schemas["Finding"]["properties"])  # as documented
    names = [f["resource_name"] for f in failing["findings"]]
    assert names[1:] == ["w1", "w4"] and names[0].startswith("hmac-sha256:")
    seq = failing["findings"][1]["seq"]
    detail = client.get(f"/api/v1/records/{seq}", headers=auth).json()
    assert detail["verdict"] == "verified"
    assert detail["signer"] == str(evidence.key.verifier)
    assert detail["proof"]["index"] == seq
    assert client.get("/api/v1/records/0", headers=auth).status_code == 404  # run_started
    assert client.get("/api/v1/runs/nope", headers=auth).status_code == 404


def test_the_api_is_described_by_its_openapi_document(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    doc = client.get("/api/v1/openapi.json", headers=bearer(tokens[Role.AUDITOR])).json()
    assert {"/api/v1/runs", "/api/v1/runs/{run}/findings", "/api/v1/records/{seq}"} <= set(
        doc["paths"]
    )
    assert not any(path.startswith(("/runs", "/login")) for path in doc["paths"])


def test_the_privacy_role_sees_no_runs(client: TestClient, tokens: dict[Role, str]) -> None:
    auth = bearer(tokens[Role.PRIVACY])
    assert client.get("/api/v1/runs", headers=auth).status_code == 403
    assert client.get("/runs", headers=auth).status_code == 403


def test_the_dsr_queue_is_the_privacy_roles_alone(
    client: TestClient, tokens: dict[Role, str], shop: DsrDesk
) -> None:
    request_id = open_request(shop, "access", ("email", "Zoë@Example.com"))
    queue = client.get("/api/v1/dsr/requests", headers=bearer(tokens[Role.PRIVACY]))
    assert queue.status_code == 200
    item = next(r for r in queue.json() if r["request"] == request_id)
    assert item["state"] == "received" and item["next_step"] == "verify the subject's identity"
    assert item["subject"].startswith("hmac-sha256:")
    assert "example.com" not in queue.text.lower()
    auditor = bearer(tokens[Role.AUDITOR])
    assert client.get("/api/v1/dsr/requests", headers=auditor).status_code == 403
    assert client.get(f"/dsr/{request_id}", headers=auditor).status_code == 403
    sign_in(client, tokens[Role.AUDITOR])
    refused = client.post(f"/dsr/{request_id}/reject", data={"reason": "x", "csrf": "x"})
    assert refused.status_code == 403


def test_a_proxy_signs_people_in_by_their_group_from_its_own_address(console: Console) -> None:
    proxied = replace(
        console,
        proxy=ProxyIdentity.parse(["10.0.0.5"], ["auditor=audit", "privacy=dpo"]),
        sessions=Sessions(),
    )
    kim = {"X-Forwarded-Email": "kim@example.com", "X-Forwarded-Groups": "staff,audit"}
    app = create_app(proxied)
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.5", 4000)) as client:
        page = client.get("/runs", headers=kim)
        assert page.status_code == 200 and "kim@example.com · auditor" in page.text
        # The session it opened carries the CSRF token its forms need.
        csrf = csrf_of(client, "/evidence")
        assert client.post("/evidence/verify", data={"csrf": csrf}).status_code == 200
        assert client.get("/dsr", headers=kim).status_code == 403
        nobody = {**kim, "X-Forwarded-Groups": "staff"}
        client.cookies.clear()
        assert client.get("/runs", headers=nobody, follow_redirects=False).status_code == 303
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.9", 4000)) as client:
        assert client.get("/runs", headers=kim, follow_redirects=False).status_code == 303


def test_the_privacy_role_extends_and_rejects_a_request(
    client: TestClient, tokens: dict[Role, str], shop: DsrDesk, evidence: Evidence
) -> None:
    request_id = open_request(shop, "erasure", ("email", "sean.o'brien@example.com"))
    sign_in(client, tokens[Role.PRIVACY])
    csrf = csrf_of(client, f"/dsr/{request_id}")
    before = shop.book().get(request_id)
    extended = client.post(
        f"/dsr/{request_id}/extend", data={"csrf": csrf, "months": "2", "reason": "complex"}
    )
    assert extended.status_code == 200
    after = shop.book().get(request_id)
    assert after.extended and after.due > before.due
    again = client.post(
        f"/dsr/{request_id}/extend", data={"csrf": csrf, "months": "1", "reason": "more"}
    )
    assert again.status_code == 409 and "already extended" in again.text
    named = client.post(
        f"/dsr/{request_id}/reject", data={"csrf": csrf, "reason": "asked by kim@example.com"}
    )
    assert named.status_code == 409 and "e-mail address" in named.text
    client.post(f"/dsr/{request_id}/reject", data={"csrf": csrf, "reason": "a duplicate"})
    assert shop.book().get(request_id).state.value == "rejected"
    with open_ledger(evidence.ledger_url, create=False) as ledger:
        actions = [
            (rec["action"], rec["by"], rec["via"])
            for rec in (stored.record for stored in ledger.records())
            if rec.get("event") == "console_action" and rec["request"] == request_id
        ]
    via = actions[0][2]
    assert via.startswith("token ")
    assert actions == [("extend", "privacy tester", via), ("reject", "privacy tester", via)]


def test_a_proxy_users_address_reaches_the_ledger_as_a_pseudonym(
    console: Console, shop: DsrDesk, evidence: Evidence
) -> None:
    proxied = replace(
        console, proxy=ProxyIdentity.parse(["10.0.0.5"], ["privacy=dpo"]), sessions=Sessions()
    )
    dpo = {"X-Forwarded-Email": "Dana.DPO@example.com", "X-Forwarded-Groups": "dpo"}
    request_id = open_request(shop, "erasure", ("email", "Zoë@Example.com"))
    app = create_app(proxied)
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.5", 4000)) as client:
        client.headers.update(dpo)
        csrf = csrf_of(client, f"/dsr/{request_id}")
        done = client.post(f"/dsr/{request_id}/verify", data={"csrf": csrf, "method": "call"})
        assert done.status_code == 200 and "verified" in done.text
    with open_ledger(evidence.ledger_url, create=False) as ledger:
        [by] = [
            rec["by"]
            for rec in (stored.record for stored in ledger.records())
            if rec.get("event") == "console_action" and rec["request"] == request_id
        ]
        assert by.startswith("hmac-sha256:") and "example.com" not in by
        assert ledger.vault_get(by) == "Dana.DPO@example.com"
