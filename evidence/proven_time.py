"""When records provably existed: timestamp tokens and witness cosignatures, checked
against the auditor's policy, and records whose claimed time comes after that.

A record's ``observed_at`` (or ``at``) is the engine's own claim. A checkpoint's RFC
3161 token (`timestamp`) proves that its note text, and so every record it covers,
existed by the TSA's time; a quorum of witness cosignatures (`cosignature`) proves it
by the time the quorum had seen it: with a quorum of N, the N-th earliest of their
times, since at least one of any N is trusted. A checkpoint's time also bounds every
record before it, so a record's bound is the earliest time of any checkpoint covering
it. A record claiming a time after its bound (beyond the stated skew) was not observed
when it says: it is flagged.

The auditor's policy (`TimePolicy`) names the trusted TSA certificates and witness
keys and the quorum. Every token and every cosignature by a trusted witness must
verify; the latest checkpoint must carry a trusted token (when TSA certificates are
given) and the quorum of cosignatures (when witnesses are): without them a history
rewritten with a stolen log key would pass. Cosignatures by other keys are ignored.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assay.evidence.checkpoint import Checkpoint
from assay.evidence.checkpoint_log import TOKEN, cosignature_kind
from assay.evidence.cosignature import Cosignature, WitnessKey
from assay.evidence.note import NoteError, parse_note
from assay.evidence.verify import LogVerificationError

if TYPE_CHECKING:
    from cryptography import x509

    from assay.evidence.timestamp import Token

DEFAULT_SKEW = timedelta(minutes=5)
LATE_SHOWN = 20
"""How many flagged records a report lists (all are counted)."""


@dataclass(frozen=True)
class TimePolicy:
    """What the auditor trusts to say when: TSA certificates, witness keys, the quorum
    of witnesses wanted, and the clock skew allowed to a record's claimed time."""

    tsa_roots: tuple[x509.Certificate, ...] = ()
    witnesses: tuple[WitnessKey, ...] = ()
    quorum: int = 1
    skew: timedelta = DEFAULT_SKEW

    def __post_init__(self) -> None:
        if self.witnesses and not 1 <= self.quorum <= len(self.witnesses):
            raise ValueError(
                f"quorum {self.quorum}: expected 1 to {len(self.witnesses)} "
                "(the witness keys given)"
            )

    def __bool__(self) -> bool:
        return bool(self.tsa_roots or self.witnesses)


@dataclass(frozen=True)
class CheckpointTime:
    """What outside parties prove about one checkpoint: its token's time, the trusted
    cosignatures, and `existed_by`, the earliest time its records are proven to exist
    by (None if nothing proves it)."""

    checkpoint: Checkpoint
    token: Token | None
    cosignatures: tuple[Cosignature, ...]
    existed_by: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.brief(),
            "timestamp": None if self.token is None else _iso(self.token.time),
            "tsa": None if self.token is None else self.token.tsa,
            "cosignatures": [
                {"witness": c.witness.name, "time": _iso(_from_unix(c.time))}
                for c in self.cosignatures
            ],
            "existed_by": None if self.existed_by is None else _iso(self.existed_by),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def check_checkpoint(
    checkpoint: Checkpoint, attachments: Mapping[str, bytes], policy: TimePolicy
) -> CheckpointTime:
    """Check what is kept beside `checkpoint` against `policy`.

    Raises LogVerificationError (naming the checkpoint) for a token that does not
    verify (with TSA certificates given), or a trusted witness's cosignature that does
    not. Attachments the policy cannot judge are ignored.
    """
    text = checkpoint.signed_text
    token = None
    data = attachments.get(TOKEN)
    if data is not None and policy.tsa_roots:
        # Imported here: rfc3161-client is needed only when tokens are checked.
        from assay.evidence.timestamp import TimestampError, check_token

        try:
            token = check_token(data, text, list(policy.tsa_roots))
        except TimestampError as exc:
            raise LogVerificationError(
                checkpoint.label, f"timestamp token: {exc.message}"
            ) from None
    found: list[Cosignature] = []
    for witness in policy.witnesses:
        line = attachments.get(cosignature_kind(witness.id))
        if line is None:
            continue
        try:
            _, signatures = parse_note(text + "\n" + line.decode("utf-8"))
            checked = [c for s in signatures if (c := witness.check(text, s)) is not None]
        except (NoteError, UnicodeDecodeError) as exc:
            raise LogVerificationError(checkpoint.label, f"cosignature: {exc}") from None
        found += checked[:1]
    times = []
    if token is not None:
        times.append(token.time)
    if policy.witnesses and len(found) >= policy.quorum:
        times.append(_from_unix(sorted(c.time for c in found)[policy.quorum - 1]))
    return CheckpointTime(checkpoint, token, tuple(found), min(times) if times else None)


def check_times(
    checkpoints: Sequence[tuple[Checkpoint, Mapping[str, bytes]]], policy: TimePolicy
) -> list[CheckpointTime]:
    """`check_checkpoint` for each (checkpoint, attachments), in order of size; then the
    latest must carry a trusted token (TSA certificates given) and the quorum of
    trusted cosignatures (witness keys given), else LogVerificationError."""
    times = [check_checkpoint(c, kept, policy) for c, kept in checkpoints]
    if not times:
        return times
    latest = times[-1]
    label = latest.checkpoint.label
    if policy.tsa_roots and latest.token is None:
        raise LogVerificationError(
            label,
            "carries no timestamp token: nothing proves when its records existed (fill the "
            "gap with assay evidence timestamp, then export again)",
        )
    if policy.witnesses and len(latest.cosignatures) < policy.quorum:
        names = ", ".join(c.witness.name for c in latest.cosignatures) or "none"
        raise LogVerificationError(
            label,
            f"cosigned by {len(latest.cosignatures)} trusted witness(es) ({names}), expected "
            f"at least {policy.quorum}: the quorum is not met (a history the witnesses never "
            "saw, or cosignatures by unknown witnesses)",
        )
    return times


@dataclass
class TimeBounds:
    """The latest time each record may claim: its covering checkpoints' earliest
    `existed_by`, plus the skew. `check` is called for every record of a walk, in seq
    order; it records the records that claim a later time."""

    sizes: list[int]
    limits: list[datetime]
    late: list[tuple[int, str]] = field(default_factory=list)
    late_count: int = 0
    _end: int = field(default=-1, repr=False)
    _limit: datetime | None = field(default=None, repr=False)
    _prefix: str = field(default="", repr=False)

    @classmethod
    def of(cls, times: Sequence[CheckpointTime], skew: timedelta) -> TimeBounds:
        """Bounds from checkpoint times (any order); sizes without a time are skipped."""
        known = sorted((t.checkpoint.size, t.existed_by) for t in times if t.existed_by is not None)
        sizes, limits = [], []
        earliest: datetime | None = None
        for size, moment in reversed(known):  # the earliest time of any checkpoint at or above
            earliest = moment if earliest is None or moment < earliest else earliest
            sizes.append(size)
            limits.append(earliest + skew)
        return cls(sizes[::-1], limits[::-1])

    def fresh(self) -> TimeBounds:
        """The same bounds with nothing recorded: one for each chunk of a walk."""
        return TimeBounds(self.sizes, self.limits)

    def _seek(self, seq: int) -> None:
        at = bisect.bisect_right(self.sizes, seq)
        if at == len(self.sizes):
            self._end, self._limit, self._prefix = 1 << 62, None, ""
            return
        self._end = self.sizes[at]
        self._limit = self.limits[at]
        self._prefix = self._limit.strftime("%Y-%m-%dT%H:%M:%S")

    def check(self, seq: int, claimed: str | None) -> None:
        """Record `seq` if what it claims (`record.claimed_time`) is a time past its bound."""
        if seq >= self._end or self._end < 0:
            self._seek(seq)
        if self._limit is None:
            return
        if claimed is None:
            return
        # Records written by assay say UTC to the second: compared as text, at once.
        if len(claimed) >= 20 and claimed[-1] == "Z" and claimed[:19] < self._prefix:
            return
        try:
            moment = datetime.fromisoformat(claimed)
        except ValueError:
            return
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment > self._limit:
            self.late_count += 1
            if len(self.late) < LATE_SHOWN:
                self.late.append((seq, claimed))

    def merge(self, other: TimeBounds) -> None:
        """Add what `other` (a later chunk's bounds) recorded."""
        self.late_count += other.late_count
        self.late += other.late[: LATE_SHOWN - len(self.late)]


def late_error(bounds: TimeBounds, skew: timedelta) -> LogVerificationError:
    """The failure that names the records claiming times past their bounds."""
    seq, claimed = bounds.late[0]
    return LogVerificationError(
        "record times",
        f"{bounds.late_count} record(s) claim a time after their checkpoint's proven time "
        f"plus {int(skew.total_seconds())} s of skew; the first, seq {seq}, claims {claimed} "
        "(the clock that wrote it was ahead, or the record was written later than it says)",
    )
