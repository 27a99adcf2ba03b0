"""The bundle's derived views, built from its records alone: OSCAL and a summary.

Both come from one pass over the records, in seq order, in memory that does not grow
with their number, and are deterministic: the same records and checkpoints give the
same bytes, so a verifier can rebuild them and compare (`verify_bundle`'s
``check_views``).

The OSCAL 1.1 assessment-results document has one result per run (consecutive records
sharing a ``run``), one observation per ``result`` record and one finding per control
of a run. Each observation links to its record: ``relevant-evidence`` points at
``records.jsonl#seq=N`` and the ``assay-record`` prop holds the record's SHA-256. UUIDs are
UUIDv5 of the bundle's checkpoint and position, so no list of them is ever kept.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from assay.evidence.checkpoint import Checkpoint

OSCAL_VERSION = "1.1.2"
NS = "urn:assay"
_NAMESPACE = uuid.UUID("6c1b7a4e-0d2f-5b0e-9a53-6173736179a2")
_NO_TIME = "1970-01-01T00:00:00Z"
MAX_RUNS = 500
MAX_CONTROLS = 2000
MAX_FAILURES = 50
_STATUSES = ("pass", "fail", "error", "not_applicable")


_NAMESPACE_BYTES = _NAMESPACE.bytes


def _uuid(*parts: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, "\\0".join(parts)))``, several times faster."""
    return _format(hashlib.sha1(_NAMESPACE_BYTES + "\x00".join(parts).encode()).hexdigest())


def _uuids(*parts: str) -> Callable[[str], str]:
    """``lambda last: _uuid(*parts, last)``, hashing `parts` once for all of them."""
    base = hashlib.sha1(_NAMESPACE_BYTES + "".join(f"{part}\x00" for part in parts).encode())

    def uuid_of(last: str) -> str:
        h = base.copy()
        h.update(last.encode())
        return _format(h.hexdigest())

    return uuid_of


def _format(h: str) -> str:
    """A SHA-1 hex digest as a UUIDv5: version 5 in the 13th digit, the RFC 4122 variant
    in the top bits of the 17th."""
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


@functools.lru_cache(maxsize=1 << 14)
def _subject_uuid(resource_id: str) -> str:
    # The same resources come back run after run: most lookups hit.
    return _uuid("resource", resource_id)


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": value}


def _text(value: Any, fallback: str) -> str:
    # OSCAL strings may not be empty or start or end with whitespace.
    text = str(value).strip() if value is not None else ""
    return text or fallback


def _control(record: dict[str, Any]) -> str:
    control = record.get("control")
    cid = control.get("id") if isinstance(control, dict) else None
    return cid if isinstance(cid, str) and cid else "unknown-control"


def _resource(record: dict[str, Any]) -> tuple[str, str]:
    resource = record.get("resource")
    if not isinstance(resource, dict):
        return "unknown-resource", "unknown-resource"
    rid = _text(resource.get("id"), "unknown-resource")
    return rid, _text(resource.get("name"), rid)


class Writer(Protocol):
    """Where a view is written: a binary file, or anything else with `write`."""

    def write(self, data: bytes, /) -> Any: ...


def cited(attachments: dict[str, bytes]) -> tuple[tuple[str, str], ...]:
    """(file name, SHA-256 hex) of each timestamp token and cosignature, in name order:
    what the views cite."""
    return tuple(
        (name, hashlib.sha256(data).hexdigest()) for name, data in sorted(attachments.items())
    )


@dataclass(frozen=True)
class ViewContext:
    """What the views say about the bundle beyond its records: the range, the
    checkpoints and the attachments beside them (`cited`)."""

    start: int
    end: int
    checkpoints: list[Checkpoint]
    attachments: tuple[tuple[str, str], ...] = ()

    @property
    def seed(self) -> str:
        last = self.checkpoints[-1]
        return f"{last.label}:{last.root.hex()}:{self.start}-{self.end}"


@dataclass
class _Tally:
    results: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    waived: int = 0

    def add(self, status: str, waived: bool) -> None:
        """Count one result: its status (as text) and whether it carries a waiver."""
        self.results += 1
        self.statuses[status] += 1
        self.waived += waived


@dataclass
class _Run:
    run: str
    uuid: str
    first: int
    start: str
    end: str
    exit_code: Any = None
    tally: _Tally = field(default_factory=_Tally)
    controls: dict[str, _Tally] = field(default_factory=dict)
    observing: bool = False
    observation_uuids: dict[str, Callable[[str], str]] = field(default_factory=dict)
    """For each control, the UUID of its nth observation in the run (`_uuids`)."""


class OscalWriter:
    """Streams the OSCAL document to `out` as records are added; `close` finishes it."""

    def __init__(self, out: Writer, context: ViewContext) -> None:
        self._out = out
        self._seed = context.seed
        self._context = context
        self._run: _Run | None = None
        self._results = 0
        self._last_at = _NO_TIME
        out.write(b'{"assessment-results":{"results":[')

    def add(self, seq: int, body: bytes, record: dict[str, Any]) -> None:
        """Take the next record: its seq, stored bytes and parsed `record`."""
        at = record.get("at")
        if isinstance(at, str) and at:
            self._last_at = at
        run = record.get("run")
        if not isinstance(run, str):
            return
        if self._run is None or self._run.run != run:
            self._end_run()
            time = at if isinstance(at, str) and at else self._last_at
            self._run = _Run(run, _uuid(self._seed, "result", str(seq)), seq, time, time)
            self._out.write(b",{" if self._results else b"{")
            self._results += 1
        current = self._run
        if isinstance(at, str) and at:
            current.end = at
        kind = record.get("kind")
        if kind == "run_started" and isinstance(at, str):
            current.start = at
        elif kind == "run_finished":
            current.exit_code = record.get("exit_code")
        elif kind == "result":
            self._observe(current, seq, hashlib.sha256(body).hexdigest(), record)

    def _observe(self, run: _Run, seq: int, digest: str, record: dict[str, Any]) -> None:
        cid = _control(record)
        tally = run.controls.get(cid)
        if tally is None:
            tally = run.controls[cid] = _Tally()
            run.observation_uuids[cid] = _uuids(run.uuid, cid)
        ordinal = tally.results
        status = str(record.get("status"))
        waiver = record.get("waiver")
        tally.add(status, waiver is not None)
        rid, name = _resource(record)
        props = [_prop("assay-status", _text(status, "unknown")), _prop("assay-record", digest)]
        if waiver is not None:
            props.append(_prop("assay-waiver", _text(waiver, "waived")))
        observation = {
            "uuid": run.observation_uuids[cid](str(ordinal)),
            "title": f"{cid} on {name}",
            "description": _text(record.get("reason"), status),
            "props": props,
            "methods": ["TEST"],
            "subjects": [{"subject-uuid": _subject_uuid(rid), "type": "resource", "title": rid}],
            "relevant-evidence": [
                {"href": f"records.jsonl#seq={seq}", "description": f"Ledger record {seq}."}
            ],
            "collected": _text(record.get("at"), run.end),
        }
        out = self._out
        out.write(b"," if run.observing else b'"observations":[')
        run.observing = True
        out.write(orjson.dumps(observation))

    def _end_run(self) -> None:
        run, out = self._run, self._out
        if run is None:
            return
        self._run = None
        if run.observing:
            out.write(b"],")
        if run.controls:
            out.write(b'"findings":[')
            for i, cid in enumerate(sorted(run.controls)):
                out.write(b"," if i else b"")
                self._finding(run, cid, run.controls[cid])
            out.write(b"],")
        selection: dict[str, Any] = (
            {"include-controls": [{"control-id": cid} for cid in sorted(run.controls)]}
            if run.controls
            else {"include-all": {}}
        )
        out.write(
            orjson.dumps(
                {
                    "uuid": run.uuid,
                    "title": f"assay run {run.run}",
                    "description": f"Ledger records from seq {run.first} of run {run.run}.",
                    "start": run.start,
                    "end": run.end,
                    "reviewed-controls": {"control-selections": [selection]},
                }
            )[1:]
        )

    def _finding(self, run: _Run, cid: str, tally: _Tally) -> None:
        failed = tally.statuses["fail"] - tally.waived
        errors = tally.statuses["error"]
        counts = ", ".join(f"{tally.statuses[s]} {s}" for s in _STATUSES)
        head = {
            "uuid": _uuid(run.uuid, "finding", cid),
            "title": cid,
            "description": f"{tally.results} results: {counts}; {tally.waived} waived.",
            "target": {
                "type": "objective-id",
                "target-id": cid,
                "status": {"state": "not-satisfied" if failed > 0 or errors else "satisfied"},
            },
        }
        self._out.write(orjson.dumps(head)[:-1] + b',"related-observations":[')
        uuid_of = run.observation_uuids[cid]
        for begin in range(0, tally.results, 1000):
            # A UUID needs no escaping: written as orjson.dumps would write the object.
            links = (
                b'{"observation-uuid":"%s"}' % uuid_of(str(k)).encode()
                for k in range(begin, min(begin + 1000, tally.results))
            )
            self._out.write((b"," if begin else b"") + b",".join(links))
        self._out.write(b"]}")

    def close(self) -> None:
        self._end_run()
        out, context = self._out, self._context
        if not self._results:
            out.write(
                orjson.dumps(
                    {
                        "uuid": _uuid(self._seed, "result"),
                        "title": "No assessment runs",
                        "description": "The bundle's records hold no assessment run.",
                        "start": self._last_at,
                        "reviewed-controls": {"control-selections": [{"include-all": {}}]},
                    }
                )
            )
        last = context.checkpoints[-1]
        tail: dict[str, Any] = {
            "uuid": _uuid(self._seed, "assessment-results"),
            "metadata": {
                "title": f"Evidence of {last.origin}, records {context.start}..{context.end - 1}",
                "last-modified": self._last_at,
                "version": f"{last.label}",
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": f"urn:assay:evidence:{last.origin}"},
        }
        if context.attachments:
            tail["back-matter"] = {"resources": [self._resource(*a) for a in context.attachments]}
        out.write(b"]," + orjson.dumps(tail)[1:] + b"}\n")

    def _resource(self, name: str, sha256: str) -> dict[str, Any]:
        token = name.endswith(".tsr")
        what = (
            "RFC 3161 timestamp token over the checkpoint's note text"
            if token
            else "Witness cosignature (C2SP tlog-cosignature/v1) on the checkpoint"
        )
        checkpoint = name.rsplit(".", 1)[0] + ".note"
        return {
            "uuid": _uuid(self._seed, "attachment", name),
            "title": f"{what}: {name}",
            "props": [_prop("assay-checkpoint-file", checkpoint)],
            "rlinks": [
                {
                    "href": name,
                    "media-type": "application/timestamp-reply" if token else "text/plain",
                    "hashes": [{"algorithm": "SHA-256", "value": sha256}],
                }
            ],
        }


class Summary:
    """Counts the records for ``summary.md``; memory is bounded whatever their number."""

    def __init__(self, context: ViewContext) -> None:
        self._context = context
        self.kinds: Counter[str] = Counter()
        self.total = _Tally()
        self.controls: dict[str, _Tally] = {}
        self.runs: dict[str, _Run] = {}
        self.more_runs: set[str] = set()
        self.failures: list[tuple[int, str, str, str, str]] = []
        self.first_at: str | None = None
        self.last_at: str | None = None

    def add(self, seq: int, body: bytes, record: dict[str, Any]) -> None:
        """Take the next record: its seq, stored bytes and parsed `record`."""
        get = record.get
        kind = get("kind")
        self.kinds[str(kind)] += 1
        at = get("at")
        if isinstance(at, str) and at:
            self.first_at = self.first_at or at
            self.last_at = at
        run_id = get("run")
        run = None
        if isinstance(run_id, str):
            run = self.runs.get(run_id)
            if run is None and len(self.runs) < MAX_RUNS:
                time = str(at or "")
                run = self.runs[run_id] = _Run(run_id, "", seq, time, time)
            elif run is None and len(self.more_runs) < MAX_RUNS:
                self.more_runs.add(run_id)
            if run is not None and isinstance(at, str):
                run.end = at
        if kind == "run_finished" and run is not None:
            run.exit_code = get("exit_code")
        if kind != "result":
            return
        status = get("status")
        text, waived = str(status), get("waiver") is not None
        self.total.add(text, waived)
        if run is not None:
            run.tally.add(text, waived)
        cid = _control(record)
        tally = self.controls.get(cid)
        if tally is None:
            if len(self.controls) >= MAX_CONTROLS:
                cid = "(other controls)"
            tally = self.controls.setdefault(cid, _Tally())
        tally.add(text, waived)
        if (status == "fail" or status == "error") and len(self.failures) < MAX_FAILURES:
            rid, _ = _resource(record)
            reason = _text(get("reason"), text)
            self.failures.append((seq, cid, rid, reason, hashlib.sha256(body).hexdigest()))

    def render(self) -> bytes:
        return "\n".join(self._lines()).encode("utf-8") + b"\n"

    def _lines(self) -> Iterator[str]:
        context, last = self._context, self._context.checkpoints[-1]
        yield "# Evidence bundle"
        yield ""
        yield (
            f"Records {context.start}..{context.end - 1} ({context.end - context.start}) of the "
            f"log `{last.origin}`, recorded from {self.first_at or 'an unknown time'} to "
            f"{self.last_at or 'an unknown time'}."
        )
        yield ""
        yield "Check it with the log's public key, obtained apart from this bundle:"
        yield ""
        yield "    assay evidence verify BUNDLE.zip --key PUBLIC-KEY"
        yield ""
        yield "The records are the evidence; this summary and the OSCAL document are built"
        yield "from them (`--check-views` rebuilds both and compares)."
        yield from _table(
            "Checkpoints",
            ["checkpoint", "root (SHA-256)"],
            [[c.label, c.root.hex()] for c in context.checkpoints],
        )
        if context.attachments:
            yield from _table(
                "Timestamp tokens and witness cosignatures",
                ["file", "SHA-256"],
                [[name, digest] for name, digest in context.attachments],
            )
        yield from _table("Records by kind", ["kind", "records"], sorted(self.kinds.items()))
        statuses = [[s, self.total.statuses[s]] for s in _STATUSES]
        yield from _table(
            "Results", ["status", "results"], [*statuses, ["waived", self.total.waived]]
        )
        yield from _table(
            "Runs",
            ["run", "from", "to", "results", "fail", "error", "exit code"],
            [
                [
                    r.run,
                    r.start,
                    r.end,
                    r.tally.results,
                    r.tally.statuses["fail"],
                    r.tally.statuses["error"],
                    r.exit_code,
                ]
                for r in self.runs.values()
            ],
            f"and {len(self.more_runs)}{'+' if len(self.more_runs) >= MAX_RUNS else ''} more runs"
            if self.more_runs
            else None,
        )
        yield from _table(
            "Controls",
            ["control", *_STATUSES, "waived"],
            [
                [cid, *(t.statuses[s] for s in _STATUSES), t.waived]
                for cid, t in sorted(self.controls.items())
            ],
        )
        failed = self.total.statuses["fail"] + self.total.statuses["error"]
        yield from _table(
            "Failures and errors",
            ["seq", "control", "resource", "reason", "record SHA-256"],
            [list(row) for row in self.failures],
            f"the first {MAX_FAILURES} of {failed}" if failed > len(self.failures) else None,
        )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= 200 else text[:199] + "…"


def _table(
    title: str, header: list[str], rows: list[Any], note: str | None = None
) -> Iterator[str]:
    yield ""
    yield f"## {title}"
    yield ""
    if not rows:
        yield "None."
        return
    yield "| " + " | ".join(header) + " |"
    yield "|" + "---|" * len(header)
    for row in rows:
        yield "| " + " | ".join(_cell(value) for value in row) + " |"
    if note:
        yield ""
        yield f"({note}.)"


class Views:
    """Both views from one pass: OSCAL streamed to `oscal`, the summary kept in counts."""

    def __init__(self, oscal: Writer, context: ViewContext) -> None:
        self.oscal = OscalWriter(oscal, context)
        self.summary = Summary(context)

    def add(self, seq: int, body: bytes, record: dict[str, Any]) -> None:
        """Take the next record: its seq, stored bytes and parsed `record`."""
        self.oscal.add(seq, body, record)
        self.summary.add(seq, body, record)

    def close(self) -> bytes:
        """Finish the OSCAL document; returns ``summary.md``."""
        self.oscal.close()
        return self.summary.render()
