"""Where the demo keeps its evidence: WORKDIR/.assay/ (ledger, signing key, checkpoint log).

Runs and DSR steps of the demo sign with the same key and copy checkpoints to the same
log, wherever the user stands, so the ledger never carries an unsigned tail.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from assay.evidence import DirectoryLog, create_signing_key, default_origin, load_key
from assay.evidence.signing import Signer
from assay.files import private_dir


@dataclass(frozen=True)
class DemoState:
    root: Path

    @classmethod
    def at(cls, workdir: Path) -> DemoState:
        """The state under `workdir` (created 0700), with a signing key and a pseudonym key
        (created if absent)."""
        state = cls(private_dir(workdir / ".assay"))
        if not state.signing_key.exists():
            create_signing_key(state.signing_key, default_origin())
        load_key(state.pseudonym_key)  # created (0600) on the first run
        return state

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.root / 'ledger.db'}"

    @property
    def workdir(self) -> Path:
        return self.root.parent

    def shown(self, path: Path | str) -> str:
        """`path` as the commands printed for the user name it: from the workdir, where
        they run (see `commands`), so the defaults (.assay/signing.key, .assay/pseudonym.key)
        of the commands that take no such option are the demo's own."""
        text = str(path)
        if text.startswith("sqlite:///"):
            return "sqlite:///" + self.shown(text.removeprefix("sqlite:///"))
        return shlex.quote(os.path.relpath(text, self.workdir))

    def commands(self, *lines: str) -> str:
        """Commands for the user to try, one an indented line, after a `cd` to the workdir
        when that is not where the user stands."""
        here = self.workdir.resolve()
        cd = [] if here == Path.cwd().resolve() else [f"cd {shlex.quote(str(here))}"]
        return "\n".join(f"  {line}" for line in [*cd, *lines])

    @property
    def signing_key(self) -> Path:
        return self.root / "signing.key"

    @property
    def pseudonym_key(self) -> Path:
        return self.root / "pseudonym.key"

    @property
    def checkpoint_log(self) -> DirectoryLog:
        return DirectoryLog(self.root / "checkpoints")

    @property
    def signer(self) -> Signer:
        return Signer(self.signing_key, self.checkpoint_log.directory)
