"""A copy of every signed checkpoint outside the ledger: the pin `verify` checks against.

Someone who controls the ledger's database can delete the latest checkpoints and then
truncate or rewrite the records behind them; what is left still verifies on its own.
A checkpoint log is storage the database does not hold: a directory (by default
``.assay/checkpoints/``) or an S3 prefix (``s3://bucket/prefix``), given by
``--checkpoint-log`` or ``$ASSAY_CHECKPOINT_LOG``. Every checkpoint a writer signs is
also written there, one file per checkpoint named by its origin and tree size, and
`verify` pins the ledger to the newest one it finds.

Files are written atomically and never replaced (S3: a conditional put): a different
checkpoint of the same origin and size already there means the ledger was rolled back
and re-extended (a fork), and the writer refuses. Checkpoints are public, so files are
0644.

What outside parties say about a checkpoint is kept beside it, never inside its note:
an RFC 3161 timestamp token (``<name>.tsr``) and one witness cosignature line per
witness (``<name>.cosig-<witness key id hex>``), each written once (`attach`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assay.evidence.record import LedgerError
from assay.files import UnsafePathError, write_bytes

if TYPE_CHECKING:
    from assay.evidence.checkpoint import Checkpoint

CHECKPOINT_LOG_ENV = "ASSAY_CHECKPOINT_LOG"
DEFAULT_CHECKPOINT_LOG = Path(".assay") / "checkpoints"
_NAME = re.compile(r"([0-9a-f]{16})-([0-9]{20})\.checkpoint")
_KIND = re.compile(r"tsr|cosig-[0-9a-f]{8}")
TOKEN = "tsr"
"""The attachment kind of an RFC 3161 timestamp token (the DER TimeStampResp)."""


def cosignature_kind(key_id: bytes) -> str:
    """The attachment kind of the cosignature line of the witness with `key_id`."""
    return f"cosig-{key_id.hex()}"


def origin_id(origin: str) -> str:
    """The 16 hex digits that name an origin's files (origins may hold any character)."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()[:16]


def file_name(origin: str, size: int) -> str:
    """``<origin id>-<size, 20 digits>.checkpoint``: names sort by size within an origin."""
    return f"{origin_id(origin)}-{size:020d}.checkpoint"


def attachment_name(origin: str, size: int, kind: str) -> str:
    """``<origin id>-<size>.<kind>``: beside the checkpoint's own file."""
    if not _KIND.fullmatch(kind):
        raise ValueError(f"attachment kind {kind!r}: expected tsr or cosig-<key id hex>")
    return f"{file_name(origin, size).removesuffix('.checkpoint')}.{kind}"


def _fork(where: str, checkpoint: Checkpoint, name: str) -> LedgerError:
    return LedgerError(
        f"checkpoint log {where} already holds a different checkpoint {checkpoint.label} "
        f"({name}): the ledger was rolled back or forked since it was signed; refusing to "
        "sign another history"
    )


def _parse(data: bytes, where: str, name: str) -> Checkpoint:
    # Imported here: every command's options name this module's defaults.
    from assay.evidence.checkpoint import Checkpoint, CheckpointError

    try:
        checkpoint = Checkpoint.from_note(data)
    except (CheckpointError, UnicodeDecodeError) as exc:
        raise LedgerError(f"checkpoint log file {where}/{name}: {exc}") from None
    if file_name(checkpoint.origin, checkpoint.size) != name:
        raise LedgerError(
            f"checkpoint log file {where}/{name} holds {checkpoint.label}, not what its name says"
        )
    return checkpoint


def _newest_name(names: Iterable[str], origins: Iterable[str]) -> str | None:
    wanted = {origin_id(origin) for origin in origins}
    best: tuple[int, str] | None = None
    for name in names:
        match = _NAME.fullmatch(name)
        if match is None or match[1] not in wanted:
            continue
        key = (int(match[2]), name)
        if best is None or key > best:
            best = key
    return None if best is None else best[1]


class CheckpointLog(Protocol):
    """Where signed checkpoints are kept apart from the ledger."""

    @property
    def location(self) -> str:
        """How messages name it: the directory, or the ``s3://`` URL."""
        ...

    def publish(self, checkpoint: Checkpoint) -> str:
        """Write `checkpoint` unless the same one is there; returns where it is.

        Raises LedgerError if a different checkpoint of its origin and size is there,
        or the log cannot be written.
        """
        ...

    def newest(self, origins: Iterable[str]) -> tuple[Checkpoint, str] | None:
        """The checkpoint of the largest tree size among `origins` (name order breaks
        ties), and where it is; None if the log holds none of theirs.

        Raises LedgerError for a file that is not the checkpoint its name says.
        """
        ...

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool:
        """Keep `data` beside `checkpoint` as its `kind` attachment (see `attachment_name`)
        unless one is there already; returns whether it was written (the first one kept
        stays). Raises LedgerError if the log cannot be written."""
        ...

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]:
        """Every attachment kept beside `checkpoint`, by kind."""
        ...


@dataclass(frozen=True)
class DirectoryLog:
    """A directory of signed checkpoints kept apart from the ledger."""

    directory: Path

    @property
    def location(self) -> str:
        return str(self.directory)

    def path_of(self, origin: str, size: int) -> Path:
        return self.directory / file_name(origin, size)

    def publish(self, checkpoint: Checkpoint) -> str:
        """Write `checkpoint` unless the same one is there; LedgerError on a different one."""
        path = self.path_of(checkpoint.origin, checkpoint.size)
        data = checkpoint.note.encode("utf-8")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                write_bytes(path, data, mode=0o644, replace=False)
                return str(path)
        except UnsafePathError:
            if not path.is_file():
                raise LedgerError(
                    f"checkpoint log {self.directory}: cannot write {path.name}"
                ) from None
            # Another writer published it meanwhile: compare below.
        except OSError as exc:
            raise LedgerError(f"checkpoint log {self.directory}: cannot write: {exc}") from None
        if path.read_bytes() != data:
            raise _fork(self.location, checkpoint, path.name)
        return str(path)

    def newest(self, origins: Iterable[str]) -> tuple[Checkpoint, str] | None:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"checkpoint log {self.directory}: cannot read: {exc}") from None
        name = _newest_name(names, origins)
        if name is None:
            return None
        path = self.directory / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LedgerError(f"checkpoint log file {path}: {exc}") from None
        return _parse(data, self.location, name), str(path)

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool:
        path = self.directory / attachment_name(checkpoint.origin, checkpoint.size, kind)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if path.exists():
                return False
            write_bytes(path, data, mode=0o644, replace=False)
        except UnsafePathError:
            return False  # another writer kept one meanwhile
        except OSError as exc:
            raise LedgerError(f"checkpoint log {self.directory}: cannot write: {exc}") from None
        return True

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]:
        stem = file_name(checkpoint.origin, checkpoint.size).removesuffix("checkpoint")
        found: dict[str, bytes] = {}
        try:
            names = os.listdir(self.directory)
            for name in sorted(names):
                kind = name[len(stem) :]
                if name.startswith(stem) and _KIND.fullmatch(kind):
                    found[kind] = (self.directory / name).read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise LedgerError(f"checkpoint log {self.directory}: cannot read: {exc}") from None
        return found


@dataclass(frozen=True)
class S3Log:
    """Signed checkpoints as objects under ``s3://bucket/prefix``, written with a
    conditional put (``If-None-Match: *``), so an object is never replaced.

    The client comes from boto3's usual configuration (credentials chain, region,
    ``$AWS_ENDPOINT_URL_S3``). Give the writer ``s3:PutObject`` and ``s3:GetObject`` on
    the prefix and ``s3:ListBucket`` on the bucket, and nobody ``s3:DeleteObject``
    (Object Lock in compliance mode makes that a rule S3 keeps).
    """

    bucket: str
    prefix: str = ""
    _client: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _s3(self) -> Any:
        if not self._client:
            import boto3  # only a log in S3 needs it

            self._client.append(boto3.client("s3"))
        return self._client[0]

    def _error(self, doing: str, exc: Exception) -> LedgerError:
        return LedgerError(f"checkpoint log {self.location}: {doing}: {exc}")

    def publish(self, checkpoint: Checkpoint) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        name = file_name(checkpoint.origin, checkpoint.size)
        key = self.prefix + name
        data = checkpoint.note.encode("utf-8")
        try:
            self._s3().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType="text/plain; charset=utf-8",
                IfNoneMatch="*",
            )
            return f"s3://{self.bucket}/{key}"
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise self._error("cannot write", exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot write", exc) from None
        if self._get(key) != data:
            raise _fork(self.location, checkpoint, name)
        return f"s3://{self.bucket}/{key}"

    def _get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body: bytes = self._s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._error(f"cannot read {key}", exc) from None
        return body

    def newest(self, origins: Iterable[str]) -> tuple[Checkpoint, str] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        names: list[str] = []
        try:
            pages = self._s3().get_paginator("list_objects_v2")
            for origin in set(origins):
                start = f"{self.prefix}{origin_id(origin)}-"
                for page in pages.paginate(Bucket=self.bucket, Prefix=start):
                    names += [item["Key"][len(self.prefix) :] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot list", exc) from None
        name = _newest_name(names, origins)
        if name is None:
            return None
        key = self.prefix + name
        return _parse(self._get(key), self.location.rstrip("/"), name), f"s3://{self.bucket}/{key}"

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.prefix + attachment_name(checkpoint.origin, checkpoint.size, kind)
        try:
            self._s3().put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                return False
            raise self._error("cannot write", exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot write", exc) from None
        return True

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        stem = self.prefix + file_name(checkpoint.origin, checkpoint.size).removesuffix(
            "checkpoint"
        )
        keys: list[str] = []
        try:
            pages = self._s3().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=stem):
                keys += [item["Key"] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot list", exc) from None
        return {
            key[len(stem) :]: self._get(key)
            for key in sorted(keys)
            if _KIND.fullmatch(key[len(stem) :])
        }


def resolve_checkpoint_log(explicit: str | Path | None = None) -> CheckpointLog:
    """The checkpoint log: `explicit`, else ``$ASSAY_CHECKPOINT_LOG``, else the default
    directory. ``s3://bucket/prefix`` names an S3 log; anything else a directory."""
    value = explicit if explicit is not None else os.environ.get(CHECKPOINT_LOG_ENV)
    if value is None or value == "":
        return DirectoryLog(DEFAULT_CHECKPOINT_LOG)
    text = str(value)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise LedgerError(f"checkpoint log {text}: no bucket; expected s3://bucket/prefix")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return S3Log(bucket, prefix)
    return DirectoryLog(Path(text))
