"""A throwaway local PostgreSQL server: initdb + pg_ctl in a temporary folder, on 127.0.0.1.

Used by `assay demo` and by the test suites that need a real server. PostgreSQL refuses
to run as root, so as root the server runs as the `postgres` user (`runuser`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assay.errors import AssayError

SERVER_USER = "postgres"


class LocalPostgresError(AssayError, RuntimeError):
    """The binaries are missing, or the server would not initialise or start."""


@dataclass(frozen=True)
class LocalPostgres:
    port: int
    datadir: Path
    bindir: Path

    @property
    def dsn(self) -> str:
        """A superuser connection string (trust authentication on loopback)."""
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, user: str, password: str | None = None, dbname: str = "postgres") -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def alter_system(self, name: str, value: str, *, dsn: str | None = None) -> None:
        """ALTER SYSTEM SET `name` = `value` and reload; returns once a new session sees it
        (LocalPostgresError after 10 s: the setting needs a restart). `dsn`: connect there
        rather than to `self.dsn` (over TLS, say)."""
        import psycopg
        from psycopg import sql

        dsn = dsn or self.dsn
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
            con.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as con:
                row = con.execute("SELECT current_setting(%s)", (name,)).fetchone()
                if row and row[0] == value:
                    return
            time.sleep(0.05)
        raise LocalPostgresError(f"{name} did not become {value!r} after a reload")


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: $PG_BIN, pg_config, Debian's layout, else PATH."""
    candidates: list[Path] = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for d in candidates:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str) -> None:
    out = subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
    if out.returncode != 0:
        raise LocalPostgresError(f"{what} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        # As the server binds: connections of an earlier server on this port, closing in
        # TIME_WAIT, do not keep it from listening there again.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_data_files(datadir: Path, hba: Sequence[str], files: Mapping[str, bytes]) -> None:
    if hba:
        conf = datadir / "pg_hba.conf"
        conf.write_text("".join(f"{line}\n" for line in hba) + conf.read_text())
    for name, content in files.items():
        path = datadir / name
        path.write_bytes(content)
        path.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(path, SERVER_USER, SERVER_USER)


@contextmanager
def local_postgres(
    settings: Mapping[str, str] | None = None,
    *,
    hba: Sequence[str] = (),
    files: Mapping[str, bytes] | None = None,
    prefer_port: int | None = None,
) -> Iterator[LocalPostgres]:
    """Initialise and start a server with `settings` added to postgresql.conf; stop and remove it.

    `settings` values are written as given (quote strings: {"ssl": "on",
    "log_line_prefix": "'%m '"}). `hba` lines go at the top of pg_hba.conf, before the
    loopback trust rules initdb writes (the first matching line wins). `files` are written
    into the data directory, readable by the server only (e.g. {"server.key": ...} for
    ssl_key_file, which the server refuses if others may read it).
    """
    bindir = find_bindir()
    if bindir is None:
        raise LocalPostgresError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; "
            "install PostgreSQL or set PG_BIN"
        )
    root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVER_USER, SERVER_USER)
    datadir = root / "data"
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            "initdb",
        )
        _write_data_files(datadir, hba, files or {})
        server: LocalPostgres | None = None
        # `prefer_port` when it is free (the demo's, so its resource ids stay the same across
        # runs), else any free one; another process may take a port before the server binds.
        wanted = [prefer_port] if prefer_port is not None and _is_free(prefer_port) else []
        for port in [*wanted, *(_free_port() for _ in range(3))]:
            conf = {
                "port": str(port),
                "listen_addresses": "'127.0.0.1'",
                "unix_socket_directories": f"'{root}'",
                **(settings or {}),
            }
            with (datadir / "postgresql.auto.conf").open("a", encoding="utf-8") as f:
                f.writelines(f"{k} = {v}\n" for k, v in conf.items())
            try:
                _run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(datadir),
                        "-l",
                        str(root / "server.log"),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    "pg_ctl start",
                )
            except LocalPostgresError:
                continue
            server = LocalPostgres(port, datadir, bindir)
            break
        if server is None:
            log = (root / "server.log").read_text(errors="replace")[-2000:]
            raise LocalPostgresError(f"the server did not start; its log ends:\n{log}")
        try:
            yield server
        finally:
            _run(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
                "pg_ctl stop",
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
