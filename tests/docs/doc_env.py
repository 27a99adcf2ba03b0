"""Where the docs' commands run: a fresh copy of the repository per Markdown file, one shell
session walked block by block, and the systems the docs assume, started on demand.

A block runs as `bash` in the directory and with the exported environment the previous block
of the same file left behind, as if typed into one terminal: `cd`, `export` and an activated
venv carry over; shell variables and functions that were not exported do not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from assay.demo.local_postgres import LocalPostgres, local_postgres
from assay.demo.shop import create_shop_postgres
from assay.examples import examples_root

ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = 600  # the quick start installs the package into a new venv

# What a block may require that no test run has: the block is skipped with this reason.
MISSING = {
    "aws-account": "needs a real AWS account and its credentials",
    "k8s-cluster": "needs a real Kubernetes cluster",
    "test-suite": "is the test suite itself, which .ci/run runs",
    "benchmark": "is a benchmark of minutes that prints figures, run by hand",
    "audit-bundles": "needs the bundles and public key an audited team hands over "
    "(README.md verifies the demo's own after the auditor's steps)",
}
# What the test provides when a block requires it (see DocSession.provide).
PROVIDED = {"aws-emulator", "shop-database", "postgres-ledger"}

# Left out of the copy: what a clone does not have, and what would leak state into it.
NOT_CLONED = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".assay"
)
# The user's own credentials and settings never reach a documented command.
SCRUBBED_PREFIXES = ("AWS_", "ASSAY_", "PG", "KUBECONFIG", "VIRTUAL_ENV", "GITHUB_STEP_SUMMARY")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto's server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto's server did not answer at {url}")


@dataclass
class Outcome:
    status: int
    output: str


class DocSession:
    """One Markdown file's walk: its directory, its environment, the systems it needs."""

    def __init__(self, name: str, base: Path, stack: ExitStack) -> None:
        self.name = name
        self.stack = stack
        self.cwd = base / "repo"
        shutil.copytree(ROOT, self.cwd, ignore=NOT_CLONED, symlinks=True)
        self.state = base / "state"
        self.state.mkdir()
        home = base / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(
            # `assay` and the tools beside it, whichever way pytest was started
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            AWS_CONFIG_FILE=str(home / "aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            KUBECONFIG=str(home / "kubeconfig"),
            COLUMNS="120",
            # installs follow the pins CI proves, as the test command's install does
            PIP_CONSTRAINT=str(ROOT / "constraints.txt"),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        self.env = env
        self.provided: set[str] = set()
        self.failed_at: str | None = None
        self._postgres: LocalPostgres | None = None

    def run(self, script: str) -> Outcome:
        """Run `script` as the next thing typed in this session; keep what it exported."""
        wrapper = (
            f'trap \'env -0 > "{self.state}/env"; pwd > "{self.state}/pwd"\' EXIT\nset -e\n{script}'
        )
        proc = subprocess.run(
            ["bash", "-c", wrapper],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=BLOCK_TIMEOUT,
        )
        env_file, pwd_file = self.state / "env", self.state / "pwd"
        if env_file.exists() and pwd_file.exists():
            pairs = (e.split("=", 1) for e in env_file.read_bytes().decode().split("\0") if e)
            self.env = {k: v for k, v in pairs if k not in {"PWD", "OLDPWD", "SHLVL", "_"}}
            self.cwd = Path(pwd_file.read_text().strip())
        return Outcome(proc.returncode, proc.stdout.decode(errors="replace"))

    def provide(self, need: str) -> None:
        """Start, once per session, what a block requires (a name in PROVIDED)."""
        if need in self.provided:
            return
        {
            "aws-emulator": self._aws_emulator,
            "shop-database": self._shop_database,
            "postgres-ledger": self._postgres_ledger,
        }[need]()
        self.provided.add(need)

    def _aws_emulator(self) -> None:
        """moto's server on a free loopback port, seeded as `assay demo` seeds it (the demo
        account, and a second one reached by assuming a role); AWS_ENDPOINT_URL points at it,
        with credentials in the environment as a real account would have them."""
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.stack.callback(proc.wait, timeout=10)
        self.stack.callback(proc.terminate)
        _wait_http(url, proc)
        seed = "from assay.demo.aws_account import seed, seed_peer; seed({0!r}); seed_peer({0!r})"
        subprocess.run(
            [sys.executable, "-c", seed.format(url)],
            env={**self.env, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
            check=True,
            capture_output=True,
        )
        # The emulator takes any credentials; these stand for the ones a real account needs.
        self.env.update(
            AWS_ENDPOINT_URL=url,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="emulator",
            AWS_SECRET_ACCESS_KEY="emulator",
        )

    def _server(self) -> LocalPostgres:
        """A throwaway PostgreSQL server that the docs' `@db` host names reach: libpq takes
        the address and port from PGHOSTADDR and PGPORT when a URL names only a host."""
        if self._postgres is None:
            self._postgres = self.stack.enter_context(local_postgres())
            self.env.update(PGHOSTADDR="127.0.0.1", PGPORT=str(self._postgres.port))
        return self._postgres

    def _database(self, name: str, owner: str, *roles: str) -> str:
        server = self._server()
        with psycopg.connect(server.dsn, autocommit=True) as con:
            for role in (owner, *roles):
                con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            con.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )
        return server.dsn_for(owner, dbname=name)

    def _shop_database(self) -> None:
        """The example shop as the docs' `postgresql://privacy@db/shop`, and its data map as
        `datamap.yaml` with that store read from SHOP_DSN."""
        create_shop_postgres(self._database("shop", "privacy"))
        text = (examples_root() / "shop" / "datamap.yaml").read_text(encoding="utf-8")
        for old, new in (
            ("kind: sqlite", "kind: postgresql"),
            ("dsn_env: SHOP_DB ", "dsn_env: SHOP_DSN"),
        ):
            assert old in text, old
            text = text.replace(old, new, 1)
        (self.cwd / "datamap.yaml").write_text(text, encoding="utf-8")

    def _postgres_ledger(self) -> None:
        """The docs' ledger database `evidence`, owned by `ledger_owner`, and a role
        `assay_writer` that owns nothing."""
        self._database("evidence", "ledger_owner", "assay_writer")
