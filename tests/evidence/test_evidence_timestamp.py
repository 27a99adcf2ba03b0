"""RFC 3161 timestamps on checkpoints: asking a TSA, keeping tokens, and checking them.

The TSA is the demo's local one on 127.0.0.1 (its tokens are also checked against
``openssl ts``, both ways); the tamper cases are tokens a verifier must refuse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import socket
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_runs import evaluate, invoke
from evidence_backends import Backend
from widgets import widget_workspace

from assay.demo.tsa import LocalTSA, imprint
from assay.evidence import (
    DirectoryLog,
    SigningKey,
    export_bundle,
    open_ledger,
    verify_bundle,
    verify_ledger,
)
from assay.evidence.attest import Attestation, AttestingLog, fill_gaps
from assay.evidence.backends import sqlite_schema
from assay.evidence.checkpoint_log import TOKEN
from assay.evidence.proven_time import TimePolicy
from assay.evidence.timestamp import (
    TimestampAuthority,
    TimestampError,
    check_token,
    request_token,
)

TEXT = "example.com/evidence/test\n3\n" + "A" * 43 + "=\n"
SHA1 = "1.3.14.3.2.26"


@pytest.fixture(scope="module")
def tsa() -> LocalTSA:
    return LocalTSA.create()


@pytest.fixture
def tsa_url(tsa: LocalTSA) -> Iterator[str]:
    with tsa.serving() as url:
        yield url


@pytest.fixture
def ca_file(tsa: LocalTSA, tmp_path: Path) -> Path:
    return tsa.write_ca(tmp_path / "tsa-ca.pem")


def _stamp(tsa: LocalTSA, text: str = TEXT, *, nonce: int | None = 7) -> bytes:
    return tsa.stamp(imprint(hashlib.sha256(text.encode()).digest()), nonce)


# --- the token ---------------------------------------------------------------------------


def test_a_token_from_the_local_tsa_verifies_and_says_when(tsa: LocalTSA, tsa_url: str) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    token = check_token(request_token(TEXT, TimestampAuthority(tsa_url)), TEXT, [tsa.ca])
    assert before <= token.time <= datetime.now(UTC)
    assert token.tsa == "CN=assay local TSA"


def test_a_token_over_other_bytes_is_refused(tsa: LocalTSA) -> None:
    with pytest.raises(TimestampError, match="over other bytes"):
        check_token(_stamp(tsa, "example.com/other\n1\n" + "B" * 43 + "=\n"), TEXT, [tsa.ca])


def test_a_sha1_imprint_is_refused(tsa: LocalTSA) -> None:
    token = tsa.stamp(imprint(hashlib.sha1(TEXT.encode()).digest(), SHA1), 7)
    with pytest.raises(TimestampError, match="imprint is SHA-1, expected SHA-256"):
        check_token(token, TEXT, [tsa.ca])


def test_a_tsa_certificate_expired_when_it_signed_is_refused() -> None:
    now = datetime.now(UTC)
    expired = LocalTSA.create(valid=(now - timedelta(days=30), now - timedelta(days=1)))
    with pytest.raises(TimestampError, match="does not verify: certificate has expired"):
        check_token(_stamp(expired), TEXT, [expired.ca])


def test_a_token_by_a_tsa_the_auditor_does_not_trust_is_refused(tsa: LocalTSA) -> None:
    stranger = LocalTSA.create("another TSA")
    with pytest.raises(TimestampError, match="does not verify: unable to get local issuer"):
        check_token(_stamp(stranger), TEXT, [tsa.ca])


def test_a_reply_that_does_not_echo_the_nonce_is_refused(tsa: LocalTSA) -> None:
    replaying = LocalTSA(tsa.ca, tsa.certificate, tsa.key, ignore_nonce=True)
    with replaying.serving() as url, pytest.raises(TimestampError, match="nonce got 1, expected"):
        request_token(TEXT, TimestampAuthority(url))


def test_a_tsa_that_does_not_answer_in_time_is_an_error_naming_it() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(TimestampError, match=f"TSA {url} did not answer"):
            request_token(TEXT, TimestampAuthority(url, timeout=0.3))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tokens_interoperate_with_openssl_ts(tsa: LocalTSA, tmp_path: Path) -> None:
    (tmp_path / "text").write_text(TEXT)
    tsa.write_ca(tmp_path / "ca.pem")
    (tmp_path / "ours.tsr").write_bytes(_stamp(tsa))
    ours = ["openssl", "ts", "-verify", "-in", "ours.tsr", "-data", "text", "-CAfile", "ca.pem"]
    assert (
        "Verification: OK"
        in subprocess.run(ours, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    )
    # An openssl TSA, signer certificate only in the token, checked by us.
    from cryptography.hazmat.primitives import serialization

    (tmp_path / "tsa.pem").write_bytes(tsa.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tsa.key").write_bytes(
        tsa.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "ts.cnf").write_text(
        "[tsa]\ndefault_tsa = t\n[t]\nserial = ./serial\ndefault_policy = 1.2.3.4\n"
        "digests = sha256\nsigner_digest = sha256\ness_cert_id_alg = sha256\naccuracy = secs:1\n"
    )
    (tmp_path / "serial").write_text("01\n")
    run = ["openssl", "ts"]
    subprocess.run(
        [*run, "-query", "-data", "text", "-sha256", "-cert", "-out", "q.tsq"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            "-reply",
            "-config",
            "ts.cnf",
            "-queryfile",
            "q.tsq",
            "-inkey",
            "tsa.key",
            "-signer",
            "tsa.pem",
            "-out",
            "theirs.tsr",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    token = check_token((tmp_path / "theirs.tsr").read_bytes(), TEXT, [tsa.ca])
    assert token.tsa == "CN=assay local TSA"


# --- the writer, the gaps, and verification ----------------------------------------------


def _entries(n: int, at: str = "2026-01-01T00:00:00Z") -> list[dict[str, object]]:
    return [{"kind": "result", "at": at, "n": i} for i in range(n)]


def test_each_signed_checkpoint_gets_a_token_kept_beside_it(
    backend: Backend,
    log_key: SigningKey,
    tsa: LocalTSA,
    tsa_url: str,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    store = DirectoryLog(tmp_path / "checkpoints")
    log = AttestingLog(store, Attestation(TimestampAuthority(tsa_url, ca_file)))
    with open_ledger(backend.url, checkpoint_log=log) as ledger:
        ledger.append(_entries(3), key=log_key)
        ledger.append(_entries(2), key=log_key)
        stored = ledger.checkpoints()
    assert [a.checkpoint.size for a in log.attested] == [3, 5]
    assert all(a.timestamp is not None and not a.problems for a in log.attested)
    with open_ledger(backend.url) as ledger:
        for checkpoint in stored:
            token = store.attachments(checkpoint)[TOKEN]
            check_token(token, checkpoint.signed_text, [tsa.ca])
            assert ledger.attachments(checkpoint) == {TOKEN: token}  # kept in the ledger too
            assert TOKEN not in checkpoint.note  # beside the note, never inside it
            assert not ledger.attach(checkpoint, TOKEN, b"another")  # the first one stays
        assert ledger.attachments(stored[0]) == store.attachments(stored[0])
    with open_ledger(backend.url) as ledger:
        report = verify_ledger(
            ledger, [log_key.verifier], policy=TimePolicy((tsa.ca,)), attachments=store.attachments
        )
    assert report.ok, report.error
    assert [t.checkpoint.size for t in report.times] == [3, 5]
    assert all(t.existed_by is not None for t in report.times)


def test_a_tsa_that_does_not_answer_leaves_the_checkpoint_signed_and_says_so(
    log_key: SigningKey,
    tsa: LocalTSA,
    tsa_url: str,
    ca_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = DirectoryLog(tmp_path / "checkpoints")
    down = Attestation(TimestampAuthority("http://127.0.0.1:9/", ca_file, timeout=0.5))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with (
        caplog.at_level(logging.WARNING, "assay.evidence"),
        open_ledger(url, checkpoint_log=AttestingLog(store, down)) as ledger,
    ):
        checkpoint = ledger.append(_entries(4), key=log_key).checkpoint
    assert checkpoint is not None and store.attachments(checkpoint) == {}
    assert f"checkpoint {checkpoint.label} is signed but not timestamped" in caplog.text
    assert "assay evidence timestamp" in caplog.text
    policy = TimePolicy((tsa.ca,))
    with open_ledger(url) as ledger:
        report = verify_ledger(
            ledger, [log_key.verifier], policy=policy, attachments=store.attachments
        )
        assert not report.ok and "carries no timestamp token" in str(report.error)
        # Filling the gap later.
        done = fill_gaps(
            ledger.checkpoints(),
            Attestation(TimestampAuthority(tsa_url, ca_file)),
            [ledger, store],
        )
        assert [a.timestamp is not None for a in done] == [True]
        for kept in (store.attachments, ledger.attachments):  # in both places
            report = verify_ledger(ledger, [log_key.verifier], policy=policy, attachments=kept)
            assert report.ok, report.error


def test_records_claiming_a_time_after_their_checkpoints_token_are_flagged(
    log_key: SigningKey, tsa: LocalTSA, tsa_url: str, tmp_path: Path
) -> None:
    store = DirectoryLog(tmp_path / "checkpoints")
    log = AttestingLog(store, Attestation(TimestampAuthority(tsa_url)))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    soon = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    with open_ledger(url, checkpoint_log=log) as ledger:
        ledger.append(_entries(3), key=log_key)
        ledger.append(_entries(2, soon), key=log_key)  # within the skew: a clock ahead
        ledger.append([*_entries(1), {"kind": "result", "observed_at": later}], key=log_key)
    with open_ledger(url) as ledger:
        report = verify_ledger(
            ledger,
            [log_key.verifier],
            policy=TimePolicy((tsa.ca,)),
            attachments=store.attachments,
        )
        assert not report.ok
        assert str(report.error).startswith(
            f"record times: 1 record(s) claim a time after their checkpoint's proven time plus "
            f"300 s of skew; the first, seq 6, claims {later}"
        )
        lenient = TimePolicy((tsa.ca,), skew=timedelta(hours=3))
        report = verify_ledger(
            ledger, [log_key.verifier], policy=lenient, attachments=store.attachments
        )
    assert report.ok, report.error


def test_a_ledger_from_before_attachments_gains_the_table_and_keeps_its_records(
    log_key: SigningKey, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        checkpoint = ledger.append(_entries(2), key=log_key).checkpoint
    assert checkpoint is not None
    with sqlite3.connect(path) as raw:  # as the schema version before attachments left it
        version = sqlite_schema.MIGRATIONS.index(sqlite_schema._create_checkpoint_attachments)
        raw.execute("DROP TABLE checkpoint_attachments")
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert ledger.attach(checkpoint, TOKEN, b"token")
        assert ledger.attachments(checkpoint) == {TOKEN: b"token"}
        assert verify_ledger(ledger, [log_key.verifier]).ok
    with sqlite3.connect(path) as raw, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM checkpoint_attachments")


# --- bundles -------------------------------------------------------------------------------


@pytest.fixture
def stamped_bundle(log_key: SigningKey, tsa: LocalTSA, tsa_url: str, tmp_path: Path) -> Path:
    store = DirectoryLog(tmp_path / "checkpoints")
    log = AttestingLog(store, Attestation(TimestampAuthority(tsa_url)))
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", checkpoint_log=log) as ledger:
        ledger.append(_entries(3), key=log_key)
        ledger.append(_entries(4), key=log_key)
        export_bundle(ledger, tmp_path / "bundle.zip", log_key)
    return tmp_path / "bundle.zip"


def test_a_bundle_carries_the_tokens_and_its_oscal_cites_them(
    stamped_bundle: Path, log_key: SigningKey, tsa: LocalTSA
) -> None:
    with zipfile.ZipFile(stamped_bundle) as zf:
        names = zf.namelist()
        oscal = json.loads(zf.read("oscal/assessment-results.json"))
        token = zf.read("checkpoints/0001-size-7.tsr")
    assert {"checkpoints/0000-size-3.tsr", "checkpoints/0001-size-7.tsr"} <= set(names)
    cited = oscal["assessment-results"]["back-matter"]["resources"]
    links = {r["rlinks"][0]["href"]: r["rlinks"][0]["hashes"][0]["value"] for r in cited}
    assert links["checkpoints/0001-size-7.tsr"] == hashlib.sha256(token).hexdigest()
    report = verify_bundle(
        stamped_bundle, [log_key.verifier], policy=TimePolicy((tsa.ca,)), check_views=True
    )
    assert report.ok, report.error
    assert [t.checkpoint.size for t in report.times] == [3, 7]
    assert report.as_dict()["checkpoint_times"][1]["tsa"] == "CN=assay local TSA"


def test_a_bundle_verified_against_another_tsa_fails_naming_the_checkpoint(
    stamped_bundle: Path, log_key: SigningKey
) -> None:
    stranger = LocalTSA.create("another TSA")
    report = verify_bundle(stamped_bundle, [log_key.verifier], policy=TimePolicy((stranger.ca,)))
    assert not report.ok
    assert str(report.error).startswith(
        "example.com/evidence/test@3: timestamp token: the token's signature does not verify"
    )


def test_a_bundle_without_tokens_fails_when_the_auditor_asks_for_one(
    log_key: SigningKey, tsa: LocalTSA, tmp_path: Path
) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.append(_entries(3), key=log_key)
        export_bundle(ledger, tmp_path / "plain.zip", log_key)
    assert verify_bundle(tmp_path / "plain.zip", [log_key.verifier]).ok
    report = verify_bundle(tmp_path / "plain.zip", [log_key.verifier], policy=TimePolicy((tsa.ca,)))
    assert not report.ok and "carries no timestamp token" in str(report.error)


@pytest.fixture
def cli_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, DirectoryLog]:
    """A ledger URL and its checkpoint log, in the working directory the CLI runs in."""
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'ledger.db'}", DirectoryLog(tmp_path / "checkpoints")


def _args(cli_ledger: tuple[str, DirectoryLog]) -> list[str]:
    url, log = cli_ledger
    return ["--ledger", url, "--checkpoint-log", log.location]


def _key_file(log_key: SigningKey, path: Path) -> Path:
    path.write_text(log_key.private_text() + "\n")
    path.chmod(0o600)
    return path


def test_the_cli_fills_gaps_and_verify_reports_when_records_existed(
    log_key: SigningKey,
    tsa_url: str,
    ca_file: Path,
    tmp_path: Path,
    cli_ledger: tuple[str, DirectoryLog],
) -> None:
    with open_ledger(cli_ledger[0], checkpoint_log=cli_ledger[1]) as ledger:
        ledger.append(_entries(5), key=log_key)
    args = _args(cli_ledger)
    filled = invoke("evidence", "timestamp", *args, "--tsa", tsa_url, "--tsa-ca", str(ca_file))
    assert filled.exit_code == 0, filled.output
    assert "1 checkpoint looked at: 1 timestamped" in filled.output
    key = str(log_key.verifier)
    verified = invoke("evidence", "verify", *args, "--key", key, "--tsa-ca", str(ca_file))
    assert verified.exit_code == 0, verified.output
    assert "example.com/evidence/test@5: records existed by 20" in verified.output
    assert "timestamp" in verified.output and "by CN=assay local TSA" in verified.output
    key_file = _key_file(log_key, tmp_path / "signing.key")
    exported = invoke("evidence", "export", *args, "--out", "b.zip", "--key", str(key_file))
    assert exported.exit_code == 0, exported.output
    checked = invoke("evidence", "verify", "b.zip", "--key", key, "--tsa-ca", str(ca_file))
    assert checked.exit_code == 0, checked.output
    assert "@5: records existed by" in checked.output


def test_checkpoint_sign_asks_the_tsa_as_a_run_does(
    log_key: SigningKey,
    tsa_url: str,
    ca_file: Path,
    tmp_path: Path,
    cli_ledger: tuple[str, DirectoryLog],
) -> None:
    with open_ledger(cli_ledger[0], checkpoint_log=cli_ledger[1]) as ledger:
        ledger.append(_entries(3), key=log_key)
        ledger.append(_entries(2))  # appended without the key: a tail to adopt
    key_file = _key_file(log_key, tmp_path / "signing.key")
    args = _args(cli_ledger)
    alone = invoke("evidence", "checkpoint", *args, "--tsa", tsa_url)
    assert alone.exit_code == 2 and "--tsa and --witness-url go with --sign" in alone.output
    signed = invoke(
        "evidence", "checkpoint", *args, "--sign", "--adopt-tail", "--key", str(key_file),
        "--tsa", tsa_url, "--tsa-ca", str(ca_file),
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    key = str(log_key.verifier)
    verified = invoke("evidence", "verify", *args, "--key", key, "--tsa-ca", str(ca_file))
    assert verified.exit_code == 0, verified.output
    assert "example.com/evidence/test@6: records existed by 20" in verified.output


def test_a_run_asks_the_profiles_tsa_for_each_checkpoint(
    tmp_path: Path,
    controls_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tsa_url: str,
    tsa: LocalTSA,
) -> None:
    ws = widget_workspace(tmp_path, controls_dir, monkeypatch)
    tsa.write_ca(ws / "tsa-ca.pem")
    with (ws / "assay.yaml").open("a") as profile:
        profile.write(f"evidence:\n  timestamp: {{url: '{tsa_url}', ca_file: tsa-ca.pem}}\n")
    assert invoke("evidence", "keygen").exit_code == 0
    ran = evaluate(ws, 3)
    assert ran.exit_code == 0, ran.output
    found = DirectoryLog(ws / ".assay" / "checkpoints").newest(
        [SigningKey.parse((ws / ".assay" / "signing.key").read_text()).name]
    )
    assert found is not None
    checkpoint = found[0]
    tokens = list((ws / ".assay" / "checkpoints").glob("*.tsr"))
    assert len(tokens) == 1
    check_token(tokens[0].read_bytes(), checkpoint.signed_text, [tsa.ca])
