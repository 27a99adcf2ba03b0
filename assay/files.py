"""Writing files safely: never through a planted link, never over what is not a file.

Every file assay writes (reports, snapshots, keys, bundles, DSR packages) goes through
`atomic_write`: a temporary file created exclusively (``O_EXCL | O_NOFOLLOW``, a random
name in the target's own directory), fsynced, then renamed over the target. A reader
never sees half a file, a symlink planted at a predictable temporary name is never
followed, and a target that exists but is not a regular file (a device such as
``/dev/null``, a FIFO, a directory, a symbolic link) is refused instead of replaced.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any, Literal, overload

from assay.errors import AssayError

PRIVATE = 0o600
"""Mode of files that hold personal data or secrets (keys, ledgers, DSR packages)."""
PRIVATE_DIR = 0o700


class UnsafePathError(AssayError):
    """An output path assay refuses to write: nothing was written."""


def check_output_path(path: Path) -> None:
    """Raise UnsafePathError unless `path` can be written as a regular file.

    Its directory must exist; the path itself may be absent or a regular file. Call it
    before any work whose result would go there, so a bad path costs nothing.
    """
    parent = path.parent
    if not parent.is_dir():
        raise UnsafePathError(
            f"{path}: directory {parent} does not exist",
            remediation=f"create it first (mkdir -p {parent}) or write elsewhere",
        )
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(
            f"{path} exists and is {_kind(st.st_mode)}, not a regular file; refusing to replace it",
            remediation="name a new file, or a regular file to overwrite (- for standard output)",
        )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


@overload
def atomic_write(
    path: Path, *, binary: Literal[False] = ..., mode: int = ..., replace: bool = ...
) -> AbstractContextManager[IO[str]]: ...
@overload
def atomic_write(
    path: Path, *, binary: Literal[True], mode: int = ..., replace: bool = ...
) -> AbstractContextManager[IO[bytes]]: ...
def atomic_write(
    path: Path, *, binary: bool = False, mode: int = 0o666, replace: bool = True
) -> AbstractContextManager[IO[str]] | AbstractContextManager[IO[bytes]]:
    """A context manager giving a file that becomes `path` when the block ends cleanly.

    `mode` is the new file's permission (less the umask; a private 0600 stays 0600).
    With ``replace=False`` an existing `path` is never overwritten (UnsafePathError).
    If the block raises, the temporary file is removed and `path` is untouched.
    """
    return _atomic(path, binary=binary, mode=mode, replace=replace)


@contextmanager
def _atomic(path: Path, *, binary: bool, mode: int, replace: bool) -> Iterator[Any]:
    check_output_path(path)
    if not replace and os.path.lexists(path):
        raise UnsafePathError(f"{path} already exists; refusing to overwrite it")
    tmp = path.parent / f".{path.name[:100]}.{secrets.token_hex(8)}.tmp"
    # Readable too: a writer may read back what it wrote (a bundle hashes stored members).
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    raw = os.fdopen(fd, "wb")
    out: IO[str] | IO[bytes] = (
        raw if binary else io.TextIOWrapper(raw, encoding="utf-8", newline="")
    )
    try:
        yield out
        out.flush()
        os.fsync(fd)
        out.close()
        # Checked again: the target may have changed while the block ran.
        check_output_path(path)
        if replace:
            os.replace(tmp, path)
        else:
            # link() refuses an existing name atomically, where a check then rename would race.
            try:
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError:
                raise UnsafePathError(f"{path} already exists; refusing to overwrite it") from None
            os.unlink(tmp)
        _sync_dir(path.parent)
    except BaseException:
        if not out.closed:
            out.close()
        tmp.unlink(missing_ok=True)
        raise


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes, *, mode: int = 0o666, replace: bool = True) -> None:
    """Write `data` to `path` through `atomic_write`."""
    with atomic_write(path, binary=True, mode=mode, replace=replace) as f:
        f.write(data)


def write_text(path: Path, text: str, *, mode: int = 0o666, replace: bool = True) -> None:
    """Write `text` (UTF-8) to `path` through `atomic_write`."""
    with atomic_write(path, mode=mode, replace=replace) as f:
        f.write(text)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if absent; a directory assay creates is 0700."""
    if not path.is_dir():
        path.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is masked by the umask
    return path
