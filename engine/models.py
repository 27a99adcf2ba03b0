"""The models at the edges: controls, profiles, targets and waivers as written in YAML."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay.engine.severity import Severity

if TYPE_CHECKING:
    from assay.evidence.attest import Attestation

CONTROL_ID = r"^[a-z0-9]+(-[a-z0-9]+)+$"
RESOURCE_TYPE = r"^[a-z0-9]+(\.[a-z0-9_]+)+$"
FRAMEWORK_ID = r"^[a-z][a-z0-9_.]*$"


class Control(BaseModel):
    """One control as written in `controls/<provider>/<id>.yaml`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:assay:control:v1",
            "oneOf": [{"required": ["check"]}, {"required": ["rule"]}],
        },
    )

    id: str = Field(pattern=CONTROL_ID, description="Stable id; equals the file name.")
    title: str = Field(min_length=1)
    description: str = ""
    severity: Severity
    frameworks: dict[str, list[str]] = Field(
        default_factory=dict, description="Framework id -> criteria, e.g. soc2: [CC6.1]."
    )
    resource: str = Field(pattern=RESOURCE_TYPE, description="Resource type, e.g. aws.s3.bucket.")
    check: str | None = Field(default=None, description="A registered check function.")
    rule: dict[str, Any] | None = Field(default=None, description="An inline declarative rule.")
    params: dict[str, Any] = Field(default_factory=dict)
    remediation: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    references: dict[str, str | list[str]] = Field(
        default_factory=dict, description="Equivalent checks elsewhere, e.g. prowler: <id>."
    )

    @property
    def provider(self) -> str:
        return self.resource.split(".")[0]

    def in_framework(self, spec: str) -> bool:
        """Whether the control maps to `spec`: a framework (soc2) or a criterion (soc2:CC6.1).

        A loaded control's `frameworks` are its own and those the framework files derive
        from its `references` (`assay.engine.frameworks`)."""
        fw, _, crit = spec.partition(":")
        crits = self.frameworks.get(fw)
        return crits is not None and (not crit or crit in crits)


class Criterion(BaseModel):
    """One criterion of a framework; `references` derive which controls satisfy it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[^:\s]+$")
    title: str = Field(min_length=1)
    references: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Reference kind -> ids (prowler: [check ids]): a control whose own "
        "`references` of that kind name one of them maps to this criterion.",
    )


class Source(BaseModel):
    """Where a framework file's ids, titles or mappings come from."""

    model_config = ConfigDict(extra="forbid")

    covers: str = Field(min_length=1, description="What of the file this source supplies.")
    origin: str = Field(min_length=1, description="A repository, a publication, or assay.")
    version: str = ""
    path: str = ""
    licence: str = ""


class Framework(BaseModel):
    """A framework file (`controls/frameworks/<id>.yaml`): its criteria, with titles and the
    reference ids each is derived from, and the sources they come from."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=FRAMEWORK_ID, description="Stable id; equals the file name.")
    title: str = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


class Selection(BaseModel):
    """Which controls a profile runs; empty lists select everything."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(default_factory=list)
    frameworks: list[str] = Field(
        default_factory=list, description="A framework id (soc2) or a criterion (soc2:CC6.1)."
    )
    tags: list[str] = Field(default_factory=list)
    severity: Severity | None = Field(default=None, description="Minimum severity.")


class Target(BaseModel):
    """A system to collect from; options beyond name and provider belong to the provider."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    provider: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Waiver(BaseModel):
    """An accepted risk: a failure of `control` on matching resources, until `expires`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    control: str = Field(description="Control id, or a glob over control ids.")
    resources: list[str] = Field(
        default_factory=lambda: ["*"], description="Globs over resource ids or names."
    )
    reason: str = Field(min_length=10)
    approver: str = Field(min_length=1)
    expires: date

    def covers_control(self, control_id: str) -> bool:
        return _glob(self.control).fullmatch(control_id) is not None

    def matches(self, control_id: str, resource_id: str, resource_name: str) -> bool:
        if not self.covers_control(control_id):
            return False
        return any(
            _glob(p).fullmatch(resource_id) or _glob(p).fullmatch(resource_name)
            for p in self.resources
        )


def _glob(pattern: str) -> re.Pattern[str]:
    # fnmatch would let `*` in an ARN glob match across `/`; that is what users expect here too,
    # but fnmatch also treats `[` as a class, which ARNs never mean.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


class TimestampSettings(BaseModel):
    """An RFC 3161 timestamp authority every signed checkpoint is sent to."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", description="The TSA's URL (HTTP POST).")
    ca_file: str | None = Field(
        default=None,
        description="PEM certificates the TSA's tokens must chain to (relative to the "
        "profile); without it, tokens are kept unchecked.",
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds to wait.")


class WitnessSettings(BaseModel):
    """A C2SP tlog-witness every signed checkpoint is sent to for a cosignature."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", description="The witness's submission prefix.")
    key: str = Field(description="The witness's public key (vkey, type 0x04).")

    @field_validator("key")
    @classmethod
    def _vkey(cls, value: str) -> str:
        from assay.evidence.cosignature import WitnessKey
        from assay.evidence.keys import SigningKeyError

        try:
            WitnessKey.parse(value)
        except SigningKeyError as exc:
            raise ValueError(exc.message) from None
        return value


class EvidenceSettings(BaseModel):
    """What outside parties are asked to say about each signed checkpoint."""

    model_config = ConfigDict(extra="forbid")

    timestamp: TimestampSettings | None = None
    witnesses: list[WitnessSettings] = Field(default_factory=list)
    quorum: int | None = Field(
        default=None, ge=1, description="Cosignatures wanted (default: every witness)."
    )

    @model_validator(mode="after")
    def _quorum(self) -> EvidenceSettings:
        if self.quorum is not None and self.quorum > len(self.witnesses):
            raise ValueError(
                f"quorum {self.quorum} is more than the {len(self.witnesses)} witnesses named"
            )
        return self

    def attestation(self, profile_path: Path | None) -> Attestation | None:
        """The writer's settings (`assay.evidence.attest`), paths relative to the profile;
        None when nothing is configured."""
        from assay.evidence.attest import Attestation, Witness
        from assay.evidence.cosignature import WitnessKey
        from assay.evidence.timestamp import TimestampAuthority

        base = profile_path.parent if profile_path is not None else Path()
        tsa = None
        if self.timestamp is not None:
            ca = base / self.timestamp.ca_file if self.timestamp.ca_file else None
            tsa = TimestampAuthority(self.timestamp.url, ca, self.timestamp.timeout)
        witnesses = tuple(Witness(w.url, WitnessKey.parse(w.key)) for w in self.witnesses)
        settings = Attestation(tsa, witnesses, self.quorum or len(witnesses) or 1)
        return settings if settings else None


class Profile(BaseModel):
    """`assay.yaml`: which controls, with which params, on which targets, with which waivers."""

    model_config = ConfigDict(extra="forbid")

    controls: Selection = Field(default_factory=Selection)
    controls_dirs: list[str] = Field(
        default_factory=list, description="Extra control folders, relative to the profile."
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Control id -> params overriding the control's own."
    )
    targets: list[Target] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    max_snapshot_age_hours: int = Field(
        default=24, gt=0, description="Evidence older than this makes results `error`."
    )
