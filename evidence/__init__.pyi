"""Exports of assay.evidence, imported on first use (see __init__.py)."""

from .attest import AttachmentStore as AttachmentStore
from .attest import Attestation as Attestation
from .attest import Attested as Attested
from .attest import AttestingLog as AttestingLog
from .attest import Witness as Witness
from .attest import WitnessError as WitnessError
from .attest import attest as attest
from .attest import fill_gaps as fill_gaps
from .attest import kept_beside as kept_beside
from .backends.postgres import PostgresLedger as PostgresLedger
from .backends.sqlite import SQLiteLedger as SQLiteLedger
from .bundle.export import (
    ExportResult as ExportResult,
)
from .bundle.export import (
    Selection as Selection,
)
from .bundle.export import (
    export_bundle as export_bundle,
)
from .bundle.export import (
    parse_when as parse_when,
)
from .bundle.records import WorkerLost as WorkerLost
from .bundle.verify import BundleReport as BundleReport
from .bundle.verify import verify_bundle as verify_bundle
from .canonical import (
    MAX_SAFE_INT as MAX_SAFE_INT,
)
from .canonical import (
    CanonicalError as CanonicalError,
)
from .canonical import (
    canonical as canonical,
)
from .canonical import (
    parse_canonical as parse_canonical,
)
from .canonical import (
    to_record_value as to_record_value,
)
from .checkpoint import Checkpoint as Checkpoint
from .checkpoint import CheckpointError as CheckpointError
from .checkpoint_log import (
    CHECKPOINT_LOG_ENV as CHECKPOINT_LOG_ENV,
)
from .checkpoint_log import (
    DEFAULT_CHECKPOINT_LOG as DEFAULT_CHECKPOINT_LOG,
)
from .checkpoint_log import (
    CheckpointLog as CheckpointLog,
)
from .checkpoint_log import (
    DirectoryLog as DirectoryLog,
)
from .checkpoint_log import (
    S3Log as S3Log,
)
from .checkpoint_log import (
    resolve_checkpoint_log as resolve_checkpoint_log,
)
from .cosignature import Cosignature as Cosignature
from .cosignature import WitnessKey as WitnessKey
from .cosignature import WitnessSigningKey as WitnessSigningKey
from .cosignature import create_witness_key as create_witness_key
from .cosignature import load_witness_key as load_witness_key
from .keys import (
    DEFAULT_SIGNING_KEY as DEFAULT_SIGNING_KEY,
)
from .keys import (
    SIGNING_KEY_ENV as SIGNING_KEY_ENV,
)
from .keys import (
    SigningKey as SigningKey,
)
from .keys import (
    SigningKeyError as SigningKeyError,
)
from .keys import (
    VerifierKey as VerifierKey,
)
from .keys import (
    create_signing_key as create_signing_key,
)
from .keys import (
    default_origin as default_origin,
)
from .keys import (
    load_signing_key as load_signing_key,
)
from .keys import (
    public_key_path as public_key_path,
)
from .keys import (
    resolve_signing_key as resolve_signing_key,
)
from .keys import (
    write_signing_key as write_signing_key,
)
from .ledger import SUPPORTED_URLS as SUPPORTED_URLS
from .ledger import Ledger as Ledger
from .ledger import open_ledger as open_ledger
from .merkle import EMPTY_ROOT as EMPTY_ROOT
from .merkle import ProofError as ProofError
from .note import NoteError as NoteError
from .proven_time import CheckpointTime as CheckpointTime
from .proven_time import TimePolicy as TimePolicy
from .pseudonym import (
    Pseudonymizer as Pseudonymizer,
)
from .pseudonym import (
    PseudonymKeyError as PseudonymKeyError,
)
from .pseudonym import (
    contains_email as contains_email,
)
from .pseudonym import (
    load_key as load_key,
)
from .pseudonym import (
    normalise_email as normalise_email,
)
from .pseudonym import (
    pseudonymise_emails as pseudonymise_emails,
)
from .record import (
    GENESIS_PREV as GENESIS_PREV,
)
from .record import (
    KEY_ROTATED as KEY_ROTATED,
)
from .record import (
    RESERVED_KEYS as RESERVED_KEYS,
)
from .record import (
    TAIL_ADOPTED as TAIL_ADOPTED,
)
from .record import (
    Appended as Appended,
)
from .record import (
    LedgerDamagedError as LedgerDamagedError,
)
from .record import (
    LedgerError as LedgerError,
)
from .record import (
    StoredRecord as StoredRecord,
)
from .record import (
    redact_url as redact_url,
)
from .signing import (
    Signer as Signer,
)
from .signing import (
    check_signing_key as check_signing_key,
)
from .signing import (
    rotate_key as rotate_key,
)
from .signing import (
    sign_checkpoint as sign_checkpoint,
)
from .timestamp import TimestampAuthority as TimestampAuthority
from .timestamp import TimestampError as TimestampError
from .timestamp import Token as Token
from .timestamp import check_token as check_token
from .timestamp import load_certificates as load_certificates
from .timestamp import request_token as request_token
from .tlog_proof import InclusionProof as InclusionProof
from .tlog_proof import prove as prove
from .verify import (
    LogVerificationError as LogVerificationError,
)
from .verify import (
    VerificationError as VerificationError,
)
from .verify import (
    VerifyReport as VerifyReport,
)
from .verify import (
    verify as verify,
)
from .verify_ledger import LedgerReport as LedgerReport
from .verify_ledger import verify_ledger as verify_ledger
from .witness import WitnessService as WitnessService
from .witness import WitnessStateError as WitnessStateError
from .witness import make_server as make_server
