"""The outside parties of the demo: a timestamp authority and a witness on 127.0.0.1.

In production they are a real TSA and a witness that a team runs where the ledger's
operators have no access. The demo runs both locally, kept under WORKDIR/.assay/ so
that each demo run extends what the last one timestamped and witnessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from assay.demo.state import DemoState
from assay.demo.tsa import LocalTSA
from assay.evidence import (
    Attestation,
    TimePolicy,
    TimestampAuthority,
    Witness,
    WitnessService,
    WitnessSigningKey,
    create_witness_key,
    load_signing_key,
    load_witness_key,
)
from assay.evidence.witness import serving

WITNESS_NAME = "witness.assay.local/demo"


@dataclass(frozen=True)
class Outside:
    """What a writer asks of the outside parties, and what an auditor trusts of them."""

    attestation: Attestation
    policy: TimePolicy
    tsa_ca: Path
    witness_key: Path

    def verify_options(self, shown: Callable[[Path], str]) -> str:
        """The options of ``assay evidence verify`` that check them, paths as `shown`."""
        return (
            f"--tsa-ca {shown(self.tsa_ca)} --witness {shown(self.witness_key.with_suffix('.pub'))}"
        )


def _witness_key(state: DemoState) -> WitnessSigningKey:
    path = state.root / "witness.key"
    if not path.exists():
        return create_witness_key(path, WITNESS_NAME)
    return load_witness_key(path)


@contextmanager
def outside_parties(state: DemoState) -> Iterator[Outside]:
    """Serve the demo's TSA and witness while the block runs."""
    tsa = LocalTSA.at(state.root / "tsa")
    ca = state.root / "tsa" / "ca.pem"
    witness = _witness_key(state)
    log = load_signing_key(state.signing_key).verifier
    service = WitnessService(witness, {log.name: [log]}, state.root / "witness-state.json")
    with ExitStack() as servers:
        tsa_url = servers.enter_context(tsa.serving())
        witness_url = servers.enter_context(serving(service))
        yield Outside(
            Attestation(
                TimestampAuthority(tsa_url, ca, timeout=5),
                (Witness(witness_url, witness.verifier),),
                quorum=1,
                timeout=5,
            ),
            TimePolicy((tsa.ca,), (witness.verifier,), quorum=1),
            ca,
            state.root / "witness.key",
        )
