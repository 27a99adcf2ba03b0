"""The ledger interface every backend provides, and opening one from a URL.

A ledger is append-only. `append` seals a batch of entries into consecutive records in
one transaction; each record's body is the entry's fields plus ``v`` (1), ``seq``
(0-based position) and ``prev`` (hex SHA-256 of the previous body, ``"0" * 64`` for
seq 0), encoded canonically and stored byte for byte.

What a backend stores, besides records: the Merkle tree's complete-subtree hashes
(written by `append`, see `record.tree_nodes`), signed checkpoints (append-only) and
the deletable ``pii_vault``. Trees, proofs, signing and verification are built on
these primitives once, in backend-agnostic modules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from assay.evidence.attest import AttestingLog
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.checkpoint_log import CheckpointLog
from assay.evidence.keys import SigningKey
from assay.evidence.merkle import NodeKey
from assay.evidence.record import Appended, Batch, LedgerError, Row, StoredRecord, redact_url

SUPPORTED_URLS = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "a bare file path (SQLite)",
    "postgresql://user:password@host:port/dbname",
    "a libpq key=value string ('host=... dbname=...', PostgreSQL)",
)
_POSTGRES_SCHEMES = ("postgresql", "postgres")


class Ledger(Protocol):
    """What the engine, reports and the verifier rely on, whatever the backend."""

    url: str
    """A URL `open_ledger` opens this same ledger with (secrets included: redact to show)."""
    checkpoint_log: CheckpointLog | None
    """Where every checkpoint this instance stores is also written, after it commits."""

    def append(
        self,
        entries: Sequence[Mapping[str, Any]],
        *,
        key: SigningKey | None = None,
        adopt: tuple[int, int] | None = None,
    ) -> Appended:
        """Seal and store `entries` as consecutive records in one transaction, all or none.

        Concurrent appenders (threads or processes) are serialised: the chain never
        forks. The tree nodes the batch completes (`record.tree_nodes`, from the stored
        frontier) are written in the same transaction. With `key`, so is a checkpoint of
        the grown log signed by it (`Appended.checkpoint`, then copied to the
        `checkpoint_log`); a keyed append refuses an unsigned tail unless `adopt` names
        it exactly ``(start, end)``, and a log the key cannot continue
        (`signed_append.check_writer`). Raises CanonicalError for an entry outside the
        record profile and LedgerError for a reserved key (``v``, ``seq``, ``prev``), a
        refusal or a storage failure (LedgerDamagedError when the storage is not a
        ledger's); either way nothing of the batch is written.
        """
        ...

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        """Stored records from seq `start` on, in seq order, streamed in flat memory."""
        ...

    def rows(self, start: int = 0) -> Iterator[Row]:
        """What `records` yields, as bare rows (seq, stored hash, body): the verifier's read."""
        ...

    def batch(self, first: int, count: int) -> Batch | None:
        """Up to `count` records from seq `first` as one `Batch` read in one query, None
        when there are none: the verifier's read (a `record.Take`)."""
        ...

    def record(self, seq: int) -> StoredRecord | None:
        """The record at `seq`, or None."""
        ...

    def head(self) -> StoredRecord | None:
        """The last record, or None when the ledger is empty."""
        ...

    def count(self) -> int:
        """The number of stored records."""
        ...

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        """The stored hashes of complete subtrees ``(level, index)``, in the order asked.

        A `merkle.NodeFetch`. Raises LedgerError if any is missing.
        """
        ...

    def tree_level(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Stored ``(index, hash)`` nodes of one tree level from `start`, in index order,
        streamed in flat memory."""
        ...

    def tree_run(self, level: int, start: int, stop: int) -> bytes:
        """Stored hashes of one tree level's nodes with index in ``[start, stop)``,
        concatenated in index order (a missing node, or one not 32 bytes long, is
        absent): a verifier's read of a whole run of nodes, in one row."""
        ...

    def node_count(self) -> int:
        """How many tree nodes are stored."""
        ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint (append-only); the identical one again is a no-op.

        Raises LedgerError if a different checkpoint of the same origin and size exists.
        """
        ...

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, in the order stored."""
        ...

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool:
        """Keep `data` beside `checkpoint` as its `kind` attachment (``tsr``, a timestamp
        token, or ``cosig-<key id>``, a witness's cosignature) unless one is there (the
        first kept stays); returns whether it was written."""
        ...

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]:
        """What is kept beside `checkpoint`, by kind."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the largest tree size, the last stored of those; or None."""
        ...

    def vault_put(self, pseudonym: str, value: str) -> None:
        """Keep a raw personal value under its pseudonym (replacing any earlier value).

        Raises ValueError if `pseudonym` is not one `Pseudonymizer` makes.
        """
        ...

    def vault_get(self, pseudonym: str) -> str | None:
        """The value kept under `pseudonym`, or None if never kept or erased."""
        ...

    def vault_erase(self, pseudonym: str) -> bool:
        """Delete the value under `pseudonym` for good; True if there was one.

        The hashed log never held it, so the ledger still verifies afterwards.
        """
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


def is_conninfo(url: str) -> bool:
    """Whether `url` is a libpq key=value connection string (``host=... dbname=...``)."""
    if "://" in url or "=" not in url:
        return False
    import psycopg  # only a PostgreSQL ledger needs it: a bundle's verifier never does
    from psycopg.conninfo import conninfo_to_dict

    try:
        return bool(conninfo_to_dict(url))
    except psycopg.Error:
        return False


def open_ledger(
    url: str, *, create: bool = True, checkpoint_log: CheckpointLog | None = None
) -> Ledger:
    """Open the ledger at `url`; with `create` (the default) make it if missing.

    Use ``create=False`` to read or verify: a mistyped path is then a LedgerError rather
    than a new, empty ledger that verifies.

    Accepted: ``sqlite:///relative/path.db`` (three slashes, then a path relative to
    the working directory), ``sqlite:////absolute/path.db`` (four slashes), or a bare
    filesystem path (the path is taken literally: no percent-decoding, no query
    string); ``postgresql://`` (or ``postgres://``) libpq URIs, or a libpq key=value
    string such as ``host=db dbname=evidence user=assay`` (a bare path with ``=`` in it
    that libpq parses is taken as one), for a PostgreSQL ledger.
    Anything else raises LedgerError naming the URL, password redacted, and the
    supported forms. A SQLite ledger is created 0600 in a directory created 0700.

    With `checkpoint_log`, every checkpoint stored through the ledger is also written
    there once committed (`checkpoint_log.CheckpointLog`); an `attest.AttestingLog` then
    also asks for its timestamp and cosignatures (kept in both), with consistency
    proofs from this ledger.
    """
    ledger = _open(url, create, checkpoint_log)
    if isinstance(checkpoint_log, AttestingLog):
        # What comes back is kept in this ledger too, and witnesses are sent
        # consistency proofs from its tree.
        checkpoint_log.bind(ledger)
    return ledger


def _open(url: str, create: bool, checkpoint_log: CheckpointLog | None) -> Ledger:
    if "://" not in url:
        if not url.strip():
            raise LedgerError(f"empty ledger URL; expected one of: {', '.join(SUPPORTED_URLS)}")
        postgres = is_conninfo(url)
    else:
        scheme, _, rest = url.partition("://")
        postgres = scheme.lower() in _POSTGRES_SCHEMES
        if not postgres and scheme.lower() != "sqlite":
            raise LedgerError(
                f"unsupported ledger URL scheme {scheme!r} in {redact_url(url)}; "
                f"supported: {', '.join(SUPPORTED_URLS)}"
            )
        if not postgres:
            url = rest[1:]
            if not rest.startswith("/") or not url:
                raise LedgerError(
                    f"SQLite ledger URL {redact_url(f'{scheme}://{rest}')} has no file path; "
                    "expected sqlite:///relative/path.db or sqlite:////absolute/path.db"
                )
    # Each backend is imported when a ledger of its kind is opened: psycopg alone is
    # a fifth of a SQLite ledger verifier's memory.
    if postgres:
        from assay.evidence.backends.postgres import PostgresLedger

        return PostgresLedger(url, create=create, checkpoint_log=checkpoint_log)
    from assay.evidence.backends.sqlite import SQLiteLedger

    return SQLiteLedger(url, create=create, checkpoint_log=checkpoint_log)
