"""The console's state: the ledger it reads, whom it trusts, what the catalog says.

Built once by `open_console` when `assay serve` starts (the catalog and profile are
read then, so a page never parses YAML), and shared by every request: the ledger
instance serialises its own calls, so threads may share it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.engine.changes import run_index
from assay.engine.models import Waiver
from assay.errors import AssayError
from assay.evidence import LedgerReport, SigningKey, VerifierKey, open_ledger, verify_ledger
from assay.evidence.backends.dbapi import SqlLedger
from assay.serve.data import ControlText, FindingsCache, RunView, Titles, run_view
from assay.serve.proxy import ProxyIdentity
from assay.serve.sessions import Sessions
from assay.serve.tokens import TokenStore

if TYPE_CHECKING:
    from assay.serve.dsr import DsrDesk


@dataclass(frozen=True)
class Catalog:
    """Titles and remediations by control id, criterion titles, and the profile's waivers."""

    controls: dict[str, ControlText] = field(default_factory=dict)
    titles: Titles = field(default_factory=Titles)
    waivers: list[Waiver] = field(default_factory=list)
    profile: Path | None = None


def load_catalog_texts(profile: Path | None) -> Catalog:
    """The catalog the profile runs with (the built-in one without a profile), and its
    waivers; ConfigErrors if the profile or a control is invalid."""
    from assay.engine.catalog import load_catalog
    from assay.engine.planner import load_profile, profile_catalog

    catalog = load_catalog() if profile is None else profile_catalog(profile)
    waivers = [] if profile is None else load_profile(profile)[0].waivers
    return Catalog(
        controls={
            cid: ControlText(c.control.title, c.control.remediation)
            for cid, c in catalog.controls.items()
        },
        titles=Titles(
            frameworks={fw.id: fw.title for fw in catalog.frameworks.values()},
            criteria={
                (fw.id, crit.id): crit.title
                for fw in catalog.frameworks.values()
                for crit in fw.criteria
            },
        ),
        waivers=waivers,
        profile=profile,
    )


@dataclass
class Verification:
    """The last full verification of the ledger the console ran, and whether one runs."""

    report: LedgerReport | None = None
    at: str | None = None
    seconds: float | None = None
    running: bool = False
    error: str | None = None
    """Why the ledger could not be read at all (a failed check is in `report`)."""


@dataclass
class Console:
    ledger: SqlLedger[Any]
    keys: list[VerifierKey]
    tokens: TokenStore
    sessions: Sessions
    catalog: Catalog
    signing_key: SigningKey | None = None
    """The key that signs exported bundles (the log's own), when the console has it."""
    proxy: ProxyIdentity | None = None
    dsr: DsrDesk | None = None
    """The DSR queue, when the console serves it (a data map was given)."""
    secure_cookies: bool = False
    verification: Verification = field(default_factory=Verification)
    findings: FindingsCache = field(default_factory=FindingsCache)
    _verify_lock: threading.Lock = field(default_factory=threading.Lock)

    def verify_in_background(self, now: str) -> bool:
        """Start verifying the whole ledger in a thread, unless one runs; True if started."""
        with self._verify_lock:
            if self.verification.running:
                return False
            self.verification = replace(self.verification, running=True)

        def work() -> None:
            began = time.monotonic()
            report, error = None, None
            # Its own connection: a verification of millions of records must not hold
            # the shared one between pages.
            try:
                with open_ledger(self.ledger.url, create=False) as ledger:
                    report = verify_ledger(ledger, self.keys, allow_unsigned_tail=True)
            except AssayError as exc:
                error = exc.diagnostics()
            except Exception as exc:  # shown on the page; never left "running" for good
                error = f"the verification stopped: {type(exc).__name__}: {exc}"
            finally:
                with self._verify_lock:
                    self.verification = Verification(
                        report, now, time.monotonic() - began, running=False, error=error
                    )

        threading.Thread(target=work, name="assay-verify", daemon=True).start()
        return True

    def run_view(self, run: str) -> RunView:
        """Everything a run's page (and the API) shows of `run`; NotFound for an unknown run."""
        return run_view(self.ledger, run, self.catalog.titles, self.findings)

    def close(self) -> None:
        self.ledger.close()


def open_console(
    ledger_url: str,
    *,
    keys: Sequence[VerifierKey],
    tokens: TokenStore,
    profile: Path | None = None,
    signing_key: SigningKey | None = None,
    sessions: Sessions | None = None,
    proxy: ProxyIdentity | None = None,
    dsr: DsrDesk | None = None,
    secure_cookies: bool = False,
) -> Console:
    """The console over the existing ledger at `ledger_url` (LedgerError if there is none)."""
    catalog = load_catalog_texts(profile)
    ledger = run_index(open_ledger(ledger_url, create=False))
    return Console(
        ledger=ledger,
        keys=list(keys),
        tokens=tokens,
        sessions=sessions or Sessions(),
        catalog=catalog,
        signing_key=signing_key,
        proxy=proxy,
        dsr=dsr,
        secure_cookies=secure_cookies,
    )
