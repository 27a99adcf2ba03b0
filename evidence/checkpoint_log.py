"""A copy of every signed checkpoint outside the ledger: the pin `verify` checks against.

Someone who controls the ledger's database can delete the latest checkpoints and then
truncate or rewrite the records behind them; what is left still verifies on its own.
A checkpoint log is a directory the database does not hold (by default
``.assay/checkpoints/``, else ``--checkpoint-log`` or ``$ASSAY_CHECKPOINT_LOG``): every
checkpoint a writer signs is also written there, one file per checkpoint named by its
origin and tree size, and `verify` pins the ledger to the newest one it finds.

Files are written atomically, never replaced: a different checkpoint of the same origin
and size already there means the ledger was rolled back and re-extended (a fork), and
the writer refuses. Checkpoints are public, so files are 0644.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.record import LedgerError
from assay.files import UnsafePathError, write_bytes

CHECKPOINT_LOG_ENV = "ASSAY_CHECKPOINT_LOG"
DEFAULT_CHECKPOINT_LOG = Path(".assay") / "checkpoints"
_NAME = re.compile(r"([0-9a-f]{16})-([0-9]{20})\.checkpoint")


def origin_id(origin: str) -> str:
    """The 16 hex digits that name an origin's files (origins may hold any character)."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CheckpointLog:
    """A directory of signed checkpoints kept apart from the ledger."""

    directory: Path

    def path_of(self, origin: str, size: int) -> Path:
        return self.directory / f"{origin_id(origin)}-{size:020d}.checkpoint"

    def publish(self, checkpoint: Checkpoint) -> Path:
        """Write `checkpoint` unless the same one is there; LedgerError on a different one."""
        path = self.path_of(checkpoint.origin, checkpoint.size)
        data = checkpoint.note.encode("utf-8")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                write_bytes(path, data, mode=0o644, replace=False)
                return path
        except UnsafePathError:
            if not path.is_file():
                raise LedgerError(
                    f"checkpoint log {self.directory}: cannot write {path.name}"
                ) from None
            # Another writer published it meanwhile: compare below.
        except OSError as exc:
            raise LedgerError(f"checkpoint log {self.directory}: cannot write: {exc}") from None
        if path.read_bytes() != data:
            raise LedgerError(
                f"checkpoint log {self.directory} already holds a different checkpoint "
                f"{checkpoint.label} ({path.name}): the ledger was rolled back or forked "
                "since it was signed; refusing to sign another history"
            )
        return path

    def newest(self, origins: Iterable[str]) -> tuple[Checkpoint, Path] | None:
        """The checkpoint of the largest tree size among `origins` (file name order
        breaks ties), and its file; None if the log holds none of theirs.

        Raises LedgerError for a file that is not the checkpoint its name says.
        """
        wanted = {origin_id(origin) for origin in origins}
        best: tuple[int, str] | None = None
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"checkpoint log {self.directory}: cannot read: {exc}") from None
        for name in names:
            match = _NAME.fullmatch(name)
            if match is None or match[1] not in wanted:
                continue
            key = (int(match[2]), name)
            if best is None or key > best:
                best = key
        if best is None:
            return None
        path = self.directory / best[1]
        try:
            checkpoint = Checkpoint.from_note(path.read_bytes())
        except (CheckpointError, UnicodeDecodeError, OSError) as exc:
            raise LedgerError(f"checkpoint log file {path}: {exc}") from None
        if self.path_of(checkpoint.origin, checkpoint.size) != path:
            raise LedgerError(
                f"checkpoint log file {path} holds {checkpoint.label}, not what its name says"
            )
        return checkpoint, path


def resolve_checkpoint_log(explicit: Path | None = None) -> CheckpointLog:
    """The checkpoint log: `explicit`, else ``$ASSAY_CHECKPOINT_LOG``, else the default."""
    if explicit is not None:
        return CheckpointLog(explicit)
    env = os.environ.get(CHECKPOINT_LOG_ENV)
    return CheckpointLog(Path(env) if env else DEFAULT_CHECKPOINT_LOG)
