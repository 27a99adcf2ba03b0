"""A C2SP tlog-witness: keeps the latest checkpoint of each log it follows and cosigns
only checkpoints consistent with it.

``POST <prefix>/add-checkpoint`` takes ``old <size>\\n``, the consistency proof's
hashes one per line (base64, at most 63), a blank line and the signed checkpoint. The
witness answers, as the spec says:

- 404 for an origin it does not follow, 403 when no trusted key of that origin signed it;
- 400 for a malformed request, an old size above the checkpoint's, or a proof given
  from size 0;
- 409 (body: its size, ``text/x.tlog.size``) when the old size is not the size it
  holds, or when it is but the root differs (two histories of one size);
- 422 when the consistency proof does not verify;
- 200 with its cosignature line (tlog-cosignature/v1, timestamped Ed25519) otherwise,
  after the new checkpoint is saved to its state file.

Checking the old size and saving the new checkpoint happen under one lock, so two
requests cannot roll the witness back. A team runs it where the ledger's operators
have no access: its state file is what makes a rewritten history, re-signed with a
stolen log key, fail to get a cosignature.
"""

from __future__ import annotations

import base64
import binascii
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assay.errors import AssayError
from assay.evidence import merkle
from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.cosignature import WitnessSigningKey
from assay.evidence.keys import VerifierKey
from assay.evidence.note import NoteError, open_note
from assay.files import write_text

MAX_PROOF = 63
BODY_MAX = 64 << 10
SIZE_TYPE = "text/x.tlog.size"


class WitnessStateError(AssayError):
    """The witness's state file is unreadable or malformed."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type and body."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, message: str) -> Answer:
    return Answer(status, (message + "\n").encode())


class WitnessService:
    """The witness's logic, apart from HTTP: `add_checkpoint` answers one request.

    `logs` maps each origin it follows to the log keys it trusts for it; `state` is the
    JSON file holding the latest cosigned checkpoint of each origin (size, root).
    """

    def __init__(
        self,
        key: WitnessSigningKey,
        logs: Mapping[str, Sequence[VerifierKey]],
        state: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.state = state
        self._clock = clock
        self._lock = threading.Lock()
        self._latest = self._load()

    def _load(self) -> dict[str, tuple[int, bytes]]:
        if not self.state.exists():
            return {}
        try:
            doc = json.loads(self.state.read_text(encoding="utf-8"))
            return {
                origin: (int(entry["size"]), base64.b64decode(entry["root"], validate=True))
                for origin, entry in doc["logs"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise WitnessStateError(
                f"witness state {self.state}: expected "
                f"{{'logs': {{origin: {{size, root}}}}}}: {exc}"
            ) from None

    def _save(self) -> None:
        doc = {
            "logs": {
                origin: {"size": size, "root": base64.b64encode(root).decode()}
                for origin, (size, root) in sorted(self._latest.items())
            }
        }
        write_text(self.state, json.dumps(doc, indent=2) + "\n", mode=0o600)

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        """The size and root of the latest checkpoint cosigned for `origin`, if any."""
        with self._lock:
            return self._latest.get(origin)

    def add_checkpoint(self, body: bytes) -> Answer:
        """Answer one add-checkpoint request body (see the module docstring)."""
        try:
            old, proof, note = _parse_request(body)
            checkpoint = Checkpoint.from_note(note)
        except (ValueError, CheckpointError) as exc:
            return _text(400, f"malformed request: {exc}")
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            return _text(404, f"unknown log origin {checkpoint.origin!r}")
        try:
            open_note(note, keys)
        except NoteError as exc:
            return _text(403, f"checkpoint signature: {exc}")
        if old > checkpoint.size:
            return _text(400, f"old size {old} is above the checkpoint's size {checkpoint.size}")
        if old == 0 and proof:
            return _text(400, "a consistency proof from size 0 must be empty")
        with self._lock:
            size, root = self._latest.get(checkpoint.origin, (0, merkle.EMPTY_ROOT))
            if old != size:
                return Answer(409, f"{size}\n".encode(), SIZE_TYPE)
            if old == checkpoint.size:
                if checkpoint.root != root and (size or checkpoint.root != merkle.EMPTY_ROOT):
                    return Answer(409, f"{size}\n".encode(), SIZE_TYPE)
            elif old:
                try:
                    merkle.verify_consistency(old, checkpoint.size, proof, root, checkpoint.root)
                except merkle.ProofError as exc:
                    return _text(422, f"not consistent with size {old}: {exc}")
            self._latest[checkpoint.origin] = (checkpoint.size, checkpoint.root)
            self._save()
            line = self.key.cosign(checkpoint.signed_text, int(self._clock()))
        return Answer(200, line.encode())


def _parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    if len(body) > BODY_MAX:
        raise ValueError(f"more than {BODY_MAX} bytes")
    text = body.decode("utf-8")
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("no blank line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    digits = first.removeprefix("old ")
    if first == digits or not digits.isdigit() or (digits != "0" and digits.startswith("0")):
        raise ValueError(f"first line {first!r}: expected 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise ValueError(f"{len(lines) - 1} proof lines, more than {MAX_PROOF}")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise ValueError(f"proof line {line!r} is not base64") from None
        if len(value) != merkle.HASH_SIZE:
            raise ValueError(f"proof line {line!r} is not a 32-byte hash")
        proof.append(value)
    return int(digits), proof, note


class _Handler(http.server.BaseHTTPRequestHandler):
    service: WitnessService
    server_version = "assay-witness"

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/add-checkpoint"):
            self._answer(_text(404, "not found: POST <prefix>/add-checkpoint"))
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > BODY_MAX:
            self._answer(_text(400, f"request body over {BODY_MAX} bytes"))
            return
        self._answer(self.service.add_checkpoint(self.rfile.read(length)))

    def _answer(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def make_server(
    service: WitnessService, host: str = "127.0.0.1", port: int = 0
) -> http.server.ThreadingHTTPServer:
    """An HTTP server answering add-checkpoint with `service` (port 0: a free one)."""
    handler = type("WitnessHandler", (_Handler,), {"service": service})
    return http.server.ThreadingHTTPServer((host, port), handler)


@contextmanager
def serving(service: WitnessService, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `service` in a thread on a free port; yields the witness's URL prefix."""
    server = make_server(service, host)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
