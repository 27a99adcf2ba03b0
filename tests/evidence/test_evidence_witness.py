"""Witness cosignatures (C2SP tlog-witness, tlog-cosignature/v1): the witness's refusals,
the writer asking, and verification against a pinned witness and a quorum."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cli_runs import invoke

from assay.evidence import (
    DirectoryLog,
    SigningKey,
    export_bundle,
    merkle,
    open_ledger,
    verify_bundle,
    verify_ledger,
)
from assay.evidence.attest import (
    Attestation,
    AttestingLog,
    Witness,
    WitnessError,
    add_checkpoint_body,
    request_cosignature,
)
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.cosignature import (
    WitnessKey,
    WitnessSigningKey,
    cosignatures,
    signed_message,
)
from assay.evidence.proven_time import TimePolicy
from assay.evidence.signed_append import sign_tree
from assay.evidence.witness import WitnessService, serving


@pytest.fixture(scope="module")
def witness_key() -> WitnessSigningKey:
    return WitnessSigningKey.generate("witness.example/w1")


@pytest.fixture
def service(witness_key: WitnessSigningKey, log_key: SigningKey, tmp_path: Path) -> WitnessService:
    return WitnessService(witness_key, {log_key.name: [log_key.verifier]}, tmp_path / "w.json")


@pytest.fixture
def witness_url(service: WitnessService) -> Iterator[str]:
    with serving(service) as url:
        yield url


def _leaves(values: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(v) for v in values]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962's Merkle tree hash, the naive recursive way."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(leaves[:split]), _mth(leaves[split:]))


class Tree:
    """A log's leaves in memory, as the witness tests need them: roots and proofs."""

    def __init__(self, key: SigningKey, values: list[bytes]) -> None:
        self.key = key
        self.leaves = _leaves(values)

    def nodes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        out = []
        for level, index in keys:
            start, end = index << level, (index + 1) << level
            out.append(_mth(self.leaves[start:end]))
        return out

    def checkpoint(self, size: int) -> Checkpoint:
        return sign_tree(self.key, size, merkle.root(self.nodes, size))

    def body(self, old: int, size: int) -> bytes:
        proof = merkle.consistency_proof(self.nodes, old, size) if old else []
        return add_checkpoint_body(self.checkpoint(size), old, proof)


# --- the format ------------------------------------------------------------------------


def test_a_cosignature_is_the_c2sp_v1_message_with_a_time_and_key_type_4(
    witness_key: WitnessSigningKey,
) -> None:
    text = "example.com/log\n5\n" + base64.b64encode(bytes(32)).decode() + "\n"
    line = witness_key.cosign(text, 1679315147)
    name, encoded = line.removeprefix("\u2014 ").rstrip("\n").split(" ")
    data = base64.b64decode(encoded)
    public = witness_key.verifier.public
    assert name == "witness.example/w1"
    assert data[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert int.from_bytes(data[4:12], "big") == 1679315147
    assert signed_message(text, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/log\n5\n" + text.split("\n", 2)[2].encode()
    )
    note = text + "\n\u2014 example.com/log AAAAAAAA\n" + line
    (found,) = cosignatures(note, [witness_key.verifier])
    assert found.time == 1679315147
    assert str(WitnessKey.parse(str(witness_key.verifier))) == str(witness_key.verifier)


# --- the witness's answers --------------------------------------------------------------


def test_the_witness_cosigns_consistent_checkpoints_and_keeps_the_latest(
    service: WitnessService, witness_key: WitnessSigningKey, log_key: SigningKey, tmp_path: Path
) -> None:
    tree = Tree(log_key, [b"%d" % i for i in range(9)])
    first = service.add_checkpoint(tree.body(0, 4))
    assert first.status == 200, first.body
    note = tree.checkpoint(4).note + first.body.decode()
    assert [c.witness for c in cosignatures(note, [witness_key.verifier])] == [witness_key.verifier]
    second = service.add_checkpoint(tree.body(4, 9))
    assert second.status == 200, second.body
    again = service.add_checkpoint(tree.body(9, 9))  # the same checkpoint once more
    assert again.status == 200
    state = json.loads((tmp_path / "w.json").read_text())
    assert state["logs"][log_key.name]["size"] == 9
    # A restart keeps what it saw.
    restarted = WitnessService(witness_key, {log_key.name: [log_key.verifier]}, tmp_path / "w.json")
    assert restarted.latest(log_key.name) == (9, tree.checkpoint(9).root)


def test_the_witness_refuses_as_the_protocol_says(
    service: WitnessService, log_key: SigningKey, other_key: SigningKey
) -> None:
    tree = Tree(log_key, [b"%d" % i for i in range(8)])
    assert service.add_checkpoint(tree.body(0, 5)).status == 200
    stale = service.add_checkpoint(tree.body(0, 8))
    assert (stale.status, stale.body, stale.content_type) == (409, b"5\n", "text/x.tlog.size")
    assert service.add_checkpoint(tree.body(6, 8)).status == 409
    assert service.add_checkpoint(b"old 01\n\n" + tree.checkpoint(8).note.encode()).status == 400
    assert service.add_checkpoint(tree.body(5, 8).replace(b"old 5", b"old 9")).status == 400
    proof_from_zero = b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n"
    assert service.add_checkpoint(proof_from_zero + tree.checkpoint(8).note.encode()).status == 400
    stranger = Tree(SigningKey.generate("example.com/unknown"), [b"x"])
    assert service.add_checkpoint(stranger.body(0, 1)).status == 404
    impostor = Tree(other_key, [b"%d" % i for i in range(8)])  # same name, another key
    assert service.add_checkpoint(impostor.body(5, 8)).status == 403
    assert service.latest(log_key.name) == (5, tree.checkpoint(5).root)


def test_the_witness_refuses_two_inconsistent_checkpoints(
    service: WitnessService, log_key: SigningKey
) -> None:
    honest = Tree(log_key, [b"%d" % i for i in range(8)])
    forged = Tree(log_key, [b"%d" % i for i in range(3)] + [b"forged"] * 5)
    assert service.add_checkpoint(honest.body(0, 5)).status == 200
    # The same size with another root: two histories.
    assert service.add_checkpoint(forged.body(5, 5)).status == 409
    # A larger tree whose proof from the witness's size does not hold.
    bad = forged.body(5, 8)
    refused = service.add_checkpoint(bad)
    assert refused.status == 422 and b"not consistent with size 5" in refused.body
    assert service.latest(log_key.name) == (5, honest.checkpoint(5).root)


# --- the writer, verification, and a stolen key ------------------------------------------


def _append(url: str, log: AttestingLog, key: SigningKey, *batches: int) -> None:
    with open_ledger(url, checkpoint_log=log) as ledger:
        for n in batches:
            ledger.append(
                [{"kind": "result", "at": "2026-01-01T00:00:00Z", "n": i} for i in range(n)],
                key=key,
            )


def test_each_checkpoint_is_cosigned_and_verifies_against_the_pinned_witness(
    witness_url: str, witness_key: WitnessSigningKey, log_key: SigningKey, tmp_path: Path
) -> None:
    store = DirectoryLog(tmp_path / "checkpoints")
    settings = Attestation(witnesses=(Witness(witness_url, witness_key.verifier),))
    log = AttestingLog(store, settings)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _append(url, log, log_key, 3, 2, 4)
    assert [(a.checkpoint.size, a.cosigned, a.problems) for a in log.attested] == [
        (size, ["witness.example/w1"], []) for size in (3, 5, 9)
    ]
    policy = TimePolicy(witnesses=(witness_key.verifier,))
    with open_ledger(url, checkpoint_log=store) as ledger:
        report = verify_ledger(
            ledger, [log_key.verifier], policy=policy, attachments=store.attachments
        )
        assert report.ok, report.error
        assert [len(t.cosignatures) for t in report.times] == [1, 1, 1]
        export_bundle(ledger, tmp_path / "b.zip", log_key)
    assert verify_bundle(tmp_path / "b.zip", [log_key.verifier], policy=policy).ok
    unknown = TimePolicy(witnesses=(WitnessSigningKey.generate("witness.example/w9").verifier,))
    report = verify_bundle(tmp_path / "b.zip", [log_key.verifier], policy=unknown)
    assert not report.ok and "quorum is not met" in str(report.error)
    two = WitnessSigningKey.generate("witness.example/w2").verifier
    report = verify_bundle(
        tmp_path / "b.zip",
        [log_key.verifier],
        policy=TimePolicy(witnesses=(witness_key.verifier, two), quorum=2),
    )
    assert not report.ok
    assert "cosigned by 1 trusted witness(es) (witness.example/w1), expected at least 2" in str(
        report.error
    )


def test_a_rewritten_history_signed_with_a_stolen_key_fails_against_a_pinned_witness(
    witness_url: str, witness_key: WitnessSigningKey, log_key: SigningKey, tmp_path: Path
) -> None:
    settings = Attestation(witnesses=(Witness(witness_url, witness_key.verifier),))
    honest = AttestingLog(DirectoryLog(tmp_path / "honest"), settings)
    _append(f"sqlite:///{tmp_path / 'honest.db'}", honest, log_key, 4, 4)
    # The thief holds the log's key and rewrites the history in a ledger of its own.
    forged_log = AttestingLog(DirectoryLog(tmp_path / "forged"), settings)
    forged_url = f"sqlite:///{tmp_path / 'forged.db'}"
    _append(forged_url, forged_log, log_key, 3, 6)
    assert all(not a.cosigned for a in forged_log.attested)
    assert "has cosigned size 8, past" in forged_log.attested[0].problems[0]
    assert "answered 422" in forged_log.attested[1].problems[0]  # not consistent with 8
    with open_ledger(forged_url, checkpoint_log=forged_log.inner) as ledger:
        assert verify_ledger(ledger, [log_key.verifier]).ok  # the log key alone is fooled
        report = verify_ledger(
            ledger,
            [log_key.verifier],
            policy=TimePolicy(witnesses=(witness_key.verifier,)),
            attachments=forged_log.inner.attachments,
        )
    assert not report.ok and "quorum is not met" in str(report.error)


def test_a_witness_that_has_seen_a_larger_checkpoint_does_not_cosign_an_older_one(
    witness_url: str, witness_key: WitnessSigningKey, log_key: SigningKey
) -> None:
    tree = Tree(log_key, [b"%d" % i for i in range(6)])
    witness = Witness(witness_url, witness_key.verifier)
    request_cosignature(witness, tree.checkpoint(6), tree.nodes, 5)
    with pytest.raises(WitnessError, match="has cosigned size 6, past"):
        request_cosignature(witness, tree.checkpoint(4), tree.nodes, 5)


def test_the_cli_serves_nothing_but_keys_and_checks_cosignatures(
    witness_url: str,
    witness_key: WitnessSigningKey,
    log_key: SigningKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    made = invoke("evidence", "witness", "keygen", "--name", "w.example/a", "--out", "w.key")
    assert made.exit_code == 0 and WitnessKey.parse(made.stdout).name == "w.example/a"
    assert (tmp_path / "w.key").stat().st_mode & 0o777 == 0o600
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, checkpoint_log=DirectoryLog(tmp_path / "cps")) as ledger:
        ledger.append([{"kind": "result", "at": "2026-01-01T00:00:00Z"}], key=log_key)
    args = ["--ledger", url, "--checkpoint-log", str(tmp_path / "cps")]
    key = str(witness_key.verifier)
    asked = invoke("evidence", "timestamp", *args, "--witness-url", witness_url, "--witness", key)
    assert asked.exit_code == 0, asked.output
    assert "the latest cosigned by witness.example/w1" in asked.output
    verified = invoke("evidence", "verify", *args, "--key", str(log_key.verifier), "--witness", key)
    assert verified.exit_code == 0, verified.output
    assert "cosigned by witness.example/w1 at" in verified.output
