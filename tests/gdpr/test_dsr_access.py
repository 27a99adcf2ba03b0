"""Access and portability: case-insensitive identities, the package, sealing, the lifecycle."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assay.gdpr import PackageError, RequestError, State, unpack
from assay.gdpr.package import sealed_header

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package

ALICE = ("email", "  ALICE.Example@EXAMPLE.com ")  # as typed in a request form

ALICE_ROWS = {
    "addresses": 2,
    "customers": 1,
    "logins": 3,
    "order_items": 4,
    "orders": 3,
    "payments": 3,
    "support_tickets": 2,
}


def open_access(shop: Shop, tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    with shop.session() as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("access", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        return s.access(ids, tmp_path / "alice.zip", request_id=request.id, **kwargs)  # type: ignore[arg-type]


def test_access_finds_every_row_whatever_the_case_of_the_address(
    shop: Shop, tmp_path: Path
) -> None:
    outcome = open_access(shop, tmp_path)
    assert outcome.result.rows == ALICE_ROWS
    assert outcome.request is not None and outcome.request.state == State.COMPLETED
    # one query per table and relation step, not one per row
    assert outcome.snapshot.queries <= 20


def test_the_package_groups_by_table_and_category_with_a_manifest(
    store_shop: Shop, tmp_path: Path
) -> None:
    outcome = open_access(store_shop, tmp_path)
    with zipfile.ZipFile(outcome.result.path) as z:
        manifest = json.loads(z.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(z.read(entry["name"])).hexdigest() == entry["sha256"]
        data = json.loads(z.read("data.json"))
        customers = data["tables"]["customers"]
        assert customers[0]["contact"]["email"] == "Alice.Example@Example.com"
        assert customers[0]["identity"]["full_name"] == "Alice Example"
        assert "password_hash" not in json.dumps(data)
        tickets = data["tables"]["support_tickets"]
        assert {t["contact"]["email"] for t in tickets} == {
            "ALICE.EXAMPLE@EXAMPLE.COM",
            "alice.example@example.com",
        }
        files = {t["table"]: t["file"] for t in manifest["tables"]}
        rows = list(csv.DictReader(io.StringIO(z.read(files["orders"]).decode())))
        assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert manifest["withheld"] == [
        {"column": "customers.password_hash", "reason": "credentials data not exported"}
    ]
    payments = next(t for t in manifest["tables"] if t["table"] == "payments")
    assert payments["purposes"][0]["basis"] == "Art. 6(1)(c) GDPR (legal obligation)"
    assert payments["legal_holds"][0]["id"] == "tax-records"
    assert payments["legal_holds"][0]["duration"] == "P7Y"
    created = datetime.fromisoformat(manifest["created_at"])
    assert (datetime.fromisoformat(manifest["expires_at"]) - created).total_seconds() == 72 * 3600


def test_a_sealed_package_round_trips_and_refuses_the_wrong_passphrase(
    sqlite_shop: Shop, tmp_path: Path
) -> None:
    outcome = open_access(sqlite_shop, tmp_path, passphrase="correct horse battery")
    path = outcome.result.path
    header = sealed_header(path)
    assert header is not None and header["cipher"] == "AES-256-GCM" and header["kdf"] == "scrypt"
    assert header["expires_at"] == outcome.result.manifest["expires_at"]
    assert b"Alice" not in path.read_bytes()
    manifest = unpack(path, tmp_path / "out", "correct horse battery")
    assert manifest == outcome.result.manifest
    data = json.loads((tmp_path / "out" / "data.json").read_text())
    assert data["tables"]["customers"][0]["identity"]["full_name"] == "Alice Example"
    with pytest.raises(PackageError, match="wrong passphrase"):
        unpack(path, tmp_path / "bad", "wrong")
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(PackageError, match="wrong passphrase, or the package was altered"):
        unpack(path, tmp_path / "bad", "correct horse battery")
    assert not (tmp_path / "bad" / "data.json").exists()


def test_a_plain_package_whose_file_was_altered_fails_its_digest(
    sqlite_shop: Shop, tmp_path: Path
) -> None:
    outcome = open_access(sqlite_shop, tmp_path)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(outcome.result.path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(
                item, data.replace(b"Alice", b"Alicf") if item.filename == "data.json" else data
            )
    with pytest.raises(PackageError, match=r"data\.json does not match its SHA-256"):
        unpack(tampered, tmp_path / "out")


def test_a_request_by_customer_id_finds_the_tickets_filed_under_the_address(
    sqlite_shop: Shop, tmp_path: Path
) -> None:
    with sqlite_shop.session() as s:
        snap = s.find(s.identities([("customer_id", "1")]))
    assert len(snap.found["support_tickets"].rows) == 2


def test_access_needs_a_verified_request_for_the_same_subject(
    sqlite_shop: Shop, tmp_path: Path
) -> None:
    with sqlite_shop.session() as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("access", ids)
        with pytest.raises(RequestError, match="not verified yet"):
            s.access(ids, tmp_path / "x.zip", request_id=request.id)
        s.book.advance(request, State.VERIFIED, method="test")
        bob = s.identities([("email", "bob@example.com")])
        with pytest.raises(RequestError, match="do not match"):
            s.access(bob, tmp_path / "x.zip", request_id=request.id)
        with pytest.raises(RequestError, match="access request, not erasure"):
            s.erase(ids, request_id=request.id)
    assert not (tmp_path / "x.zip").exists()
