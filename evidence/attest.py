"""What a writer asks of outside parties for each signed checkpoint: a timestamp token
and witness cosignatures, kept beside the checkpoint in the checkpoint log and in the
ledger.

Both come after the checkpoint is signed and stored, and neither can stop it: a TSA or
witness that does not answer in time leaves the checkpoint signed, and the gap is
said (a warning naming the checkpoint, and `Attested.problems`) and filled later by
``assay evidence timestamp`` (`fill_gaps`).

A witness (C2SP tlog-witness) is sent the checkpoint with a consistency proof from the
last checkpoint it cosigned for the origin; it answers 409 with its size when the
writer guessed wrong, and the request is made again from that size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from assay.errors import EvidenceError
from assay.evidence import merkle
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.checkpoint_log import TOKEN, CheckpointLog, cosignature_kind
from assay.evidence.cosignature import WitnessKey, cosignatures
from assay.evidence.merkle import NodeFetch, NodeKey
from assay.evidence.note import NoteError
from assay.evidence.record import LedgerError, redact_url
from assay.evidence.timestamp import TimestampAuthority, TimestampError, request_token, token_time

log = logging.getLogger("assay.evidence")
ANSWER_MAX = 64 << 10
"""The most a witness's answer may be: a few signature lines."""


@dataclass(frozen=True)
class Witness:
    """A witness to ask: where it listens (its submission prefix) and its public key."""

    url: str
    key: WitnessKey

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/add-checkpoint"


@dataclass(frozen=True)
class Attestation:
    """What a writer asks for each checkpoint: a token from `tsa`, cosignatures from
    `witnesses` (at least `quorum` of them wanted), each call within `timeout` seconds."""

    tsa: TimestampAuthority | None = None
    witnesses: tuple[Witness, ...] = ()
    quorum: int = 1
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.witnesses and not 1 <= self.quorum <= len(self.witnesses):
            raise ValueError(
                f"quorum {self.quorum}: expected 1 to {len(self.witnesses)} (the witnesses named)"
            )

    def __bool__(self) -> bool:
        return self.tsa is not None or bool(self.witnesses)


@dataclass
class Attested:
    """What was kept beside one checkpoint, and what is missing and why."""

    checkpoint: Checkpoint
    timestamp: datetime | None = None
    cosigned: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class AttachmentStore(Protocol):
    """Where attachments are kept beside checkpoints: a checkpoint log, or a ledger."""

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool: ...

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]: ...


class TreeLedger(AttachmentStore, Protocol):
    """A ledger as `AttestingLog` uses it: its attachments and its tree."""

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]: ...


def kept_beside(checkpoint: Checkpoint, stores: Sequence[AttachmentStore]) -> dict[str, bytes]:
    """Every attachment kept beside `checkpoint` in any of `stores` (the first store's
    copy of a kind when several hold one)."""
    found: dict[str, bytes] = {}
    for store in stores:
        for kind, data in store.attachments(checkpoint).items():
            found.setdefault(kind, data)
    return found


class WitnessError(EvidenceError):
    """A witness did not cosign; `status` is its HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size


def add_checkpoint_body(checkpoint: Checkpoint, old: int, proof: Sequence[bytes]) -> bytes:
    """The tlog-witness add-checkpoint request body."""
    import base64

    lines = [f"old {old}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return ("".join(lines) + checkpoint.note).encode()


def _post(witness: Witness, body: bytes, timeout: float) -> str:
    import urllib.error  # only a ledger that asks witnesses needs it
    import urllib.request

    request = urllib.request.Request(
        witness.endpoint, data=body, headers={"Content-Type": "text/plain"}, method="POST"
    )
    where = redact_url(witness.url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            data: bytes = answer.read(ANSWER_MAX + 1)
    except urllib.error.HTTPError as exc:
        text = exc.read(ANSWER_MAX).decode("utf-8", "replace").strip()
        size = None
        if exc.code == 409 and exc.headers.get("Content-Type", "").startswith("text/x.tlog.size"):
            size = int(text) if text.isdigit() else None
        raise WitnessError(
            f"witness {where} answered {exc.code} {exc.reason}: {text[:200]}", exc.code, size
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise WitnessError(f"witness {where} did not answer: {reason}") from None
    if len(data) > ANSWER_MAX:
        raise WitnessError(f"witness {where} answered more than {ANSWER_MAX} bytes")
    return data.decode("utf-8", "replace")


def request_cosignature(
    witness: Witness, checkpoint: Checkpoint, nodes: NodeFetch | None, timeout: float
) -> str:
    """Ask `witness` to cosign `checkpoint`; returns its verified cosignature line.

    The first request claims the witness saw nothing (old size 0); a witness that did
    answers 409 with its size, and the request is made again with a consistency proof
    from there (read from `nodes`, the ledger's tree). Raises WitnessError.
    """
    old, proof = 0, list[bytes]()
    for _ in range(2):
        try:
            answer = _post(witness, add_checkpoint_body(checkpoint, old, proof), timeout)
            break
        except WitnessError as exc:
            if exc.status != 409 or exc.size is None or exc.size == old:
                raise
            if exc.size > checkpoint.size:
                raise WitnessError(
                    f"witness {witness.key.name} has cosigned size {exc.size}, past "
                    f"{checkpoint.label}: it cosigns only the latest checkpoint"
                ) from None
            if nodes is None:
                raise WitnessError(
                    f"witness {witness.key.name} has seen size {exc.size}: a consistency "
                    "proof from there needs the ledger"
                ) from None
            old = exc.size
            try:
                proof = merkle.consistency_proof(nodes, old, checkpoint.size) if old else []
            except (merkle.ProofError, LedgerError) as error:
                raise WitnessError(f"no consistency proof from size {old}: {error}") from None
    else:
        raise WitnessError(f"witness {witness.key.name} kept answering 409")
    try:
        found = cosignatures(checkpoint.note + answer, [witness.key])
    except NoteError as exc:
        raise WitnessError(
            f"witness {witness.key.name} answered a bad cosignature: {exc}"
        ) from None
    if not found:
        raise WitnessError(f"witness {witness.key.name} answered no cosignature by {witness.key}")
    return found[0].line


def attest(
    checkpoint: Checkpoint,
    settings: Attestation,
    stores: Sequence[AttachmentStore],
    nodes: NodeFetch | None = None,
) -> Attested:
    """Ask for what `stores` do not yet keep beside `checkpoint`, and keep what comes in
    every one of them (one that lacks what another keeps gets a copy).

    Never raises for a TSA or witness that fails: `Attested.problems` says what is
    missing (and each is logged as a warning). A store that cannot be written raises
    LedgerError.
    """
    held = [store.attachments(checkpoint) for store in stores]
    kept: dict[str, bytes] = {}
    for found in held:
        for kind, data in found.items():
            kept.setdefault(kind, data)
    for store, found in zip(stores, held, strict=True):
        for kind in kept.keys() - found.keys():
            store.attach(checkpoint, kind, kept[kind])

    def keep(kind: str, data: bytes) -> None:
        for store in stores:
            store.attach(checkpoint, kind, data)
        kept[kind] = data

    outcome = Attested(checkpoint)
    text = checkpoint.signed_text
    if settings.tsa is not None:
        if TOKEN not in kept:
            try:
                token = request_token(text, settings.tsa)
            except TimestampError as exc:
                outcome.problems.append(
                    f"checkpoint {checkpoint.label} is signed but not timestamped: "
                    f"{exc.message} (fill the gap later: assay evidence timestamp)"
                )
            else:
                keep(TOKEN, token)
        if TOKEN in kept:
            outcome.timestamp = token_time(kept[TOKEN])
    for witness in settings.witnesses:
        kind = cosignature_kind(witness.key.id)
        if kind not in kept:
            try:
                line = request_cosignature(witness, checkpoint, nodes, settings.timeout)
            except WitnessError as exc:
                outcome.problems.append(f"checkpoint {checkpoint.label}: {exc}")
                continue
            keep(kind, line.encode())
        outcome.cosigned.append(witness.key.name)
    if settings.witnesses and len(outcome.cosigned) < settings.quorum:
        outcome.problems.append(
            f"checkpoint {checkpoint.label} has {len(outcome.cosigned)} of the "
            f"{settings.quorum} witness cosignatures wanted"
        )
    for problem in outcome.problems:
        log.warning("%s", problem)
    return outcome


def fill_gaps(
    checkpoints: Iterable[Checkpoint],
    settings: Attestation,
    stores: Sequence[AttachmentStore],
    nodes: NodeFetch | None = None,
) -> list[Attested]:
    """`attest` every checkpoint that lacks a token; witnesses are asked only for the
    latest checkpoint of each origin (a witness cosigns nothing older than what it saw)."""
    ordered = sorted(checkpoints, key=lambda c: c.size)
    latest = {c.origin: c for c in ordered}
    only_tsa = Attestation(tsa=settings.tsa, timeout=settings.timeout)
    done = []
    for checkpoint in ordered:
        wanted = settings if latest[checkpoint.origin] is checkpoint else only_tsa
        if wanted:
            done.append(attest(checkpoint, wanted, stores, nodes))
    return done


class AttestingLog:
    """A checkpoint log that, after publishing each checkpoint, attests it (`attest`).

    The ledger it is given to binds itself (`bind`, done by `open_ledger`): what comes
    back is kept there too, and witnesses are sent consistency proofs from its tree.
    `attested` lists every outcome.
    """

    def __init__(self, inner: CheckpointLog, settings: Attestation) -> None:
        self.inner = inner
        self.settings = settings
        self.attested: list[Attested] = []
        self._ledger: TreeLedger | None = None

    def bind(self, ledger: TreeLedger) -> None:
        self._ledger = ledger

    @property
    def location(self) -> str:
        return self.inner.location

    def publish(self, checkpoint: Checkpoint) -> str:
        where = self.inner.publish(checkpoint)
        ledger = self._ledger
        stores: list[AttachmentStore] = [self.inner] if ledger is None else [ledger, self.inner]
        nodes = None if ledger is None else ledger.nodes
        self.attested.append(attest(checkpoint, self.settings, stores, nodes))
        return where

    def newest(self, origins: Iterable[str]) -> tuple[Checkpoint, str] | None:
        return self.inner.newest(origins)

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool:
        return self.inner.attach(checkpoint, kind, data)

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]:
        return self.inner.attachments(checkpoint)
