"""RFC 3161 timestamp tokens over signed checkpoints: asking a TSA, and checking a token.

A token binds the SHA-256 of a checkpoint's note text (the signed text, without its
signature lines) to the time a timestamp authority (TSA) gives it, signed by the
TSA's certificate. So every record the checkpoint covers provably existed by that
time, whoever holds the log's key. The token is kept beside the checkpoint, never
inside its note (`attest`).

`rfc3161-client` builds requests and checks tokens; it does no network I/O: the HTTP
POST (``application/timestamp-query``) is made here with the standard library. Only
SHA-256 imprints are accepted, and a response must echo the request's nonce.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assay.errors import AssayError
from assay.evidence.record import redact_url

if TYPE_CHECKING:
    from cryptography import x509
    from rfc3161_client import TimeStampResponse

# rfc3161-client, cryptography's x509 and urllib are imported where tokens are asked for
# or checked: a ledger opened without a TSA, as a verifier's is, never loads them.
SHA256 = "2.16.840.1.101.3.4.2.1"
QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"
TOKEN_MAX = 64 << 10
"""The largest response read from a TSA: a token is a few KiB."""
_VERIFY_ERROR = re.compile(r'Verify error: ([^"]+)')
_DIGEST_NAMES = {
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
}


class TimestampError(AssayError):
    """A TSA gave no token, or a token does not verify; the message says why."""


@dataclass(frozen=True)
class TimestampAuthority:
    """Where to ask for tokens: the TSA's URL, the certificates that vouch for it (PEM)
    and how long to wait for an answer (seconds)."""

    url: str
    ca_file: Path | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class Token:
    """A checked token: the TSA's time, its serial number and the signer's subject."""

    time: datetime
    serial: int
    tsa: str


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in the PEM file `path`; TimestampError if none or unreadable."""
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"{path}: not a PEM file of certificates: {exc}") from None
    if not certificates:
        raise TimestampError(f"{path}: holds no certificate")
    return certificates


def _decode(data: bytes) -> TimeStampResponse:
    from rfc3161_client import decode_timestamp_response

    try:
        return decode_timestamp_response(data)
    except ValueError as exc:
        raise TimestampError(f"not an RFC 3161 timestamp response: {exc}") from None


def check_token(
    data: bytes,
    text: str,
    roots: list[x509.Certificate],
    *,
    nonce: int | None = None,
) -> Token:
    """Check the timestamp response `data` over the note text `text`; returns its time.

    The imprint must be SHA-256 of `text`; the signature must chain to one of `roots`
    (the trusted TSA certificates), by a certificate with the critical timeStamping
    EKU, valid at the token's time; with `nonce`, the response must echo it. Raises
    TimestampError saying which check failed.
    """
    from rfc3161_client import VerificationError, VerifierBuilder

    response = _check_content(data, text, nonce)
    if not roots:
        raise TimestampError("no trusted TSA certificate given to check the token against")
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, hashlib.sha256(text.encode()).digest())
    except VerificationError as exc:
        # OpenSSL's error stack is long; its last "Verify error" says what failed.
        reason = _VERIFY_ERROR.findall(str(exc))
        detail = reason[-1] if reason else str(exc)
        raise TimestampError(f"the token's signature does not verify: {detail}") from None
    info = response.tst_info
    return Token(_utc(info.gen_time), info.serial_number, _signer(response))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _signer(response: TimeStampResponse) -> str:
    from cryptography import x509

    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return "unknown"
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if cert.serial_number == infos[0].serial_number and cert.issuer == infos[0].issuer:
            return cert.subject.rfc4514_string()
    return infos[0].issuer.rfc4514_string()


def token_time(data: bytes) -> datetime:
    """The time a token claims, unchecked: for listing, never for trusting."""
    return _utc(_decode(data).tst_info.gen_time)


def request_token(text: str, tsa: TimestampAuthority) -> bytes:
    """Ask `tsa` for a token over the note text `text`; returns the response's bytes.

    The response is checked before it is kept: status granted, SHA-256 imprint of
    `text`, the request's nonce; and its signature against `tsa.ca_file` when given.
    Raises TimestampError when the TSA does not answer within `tsa.timeout` seconds,
    answers with an error, or answers with a token that does not check.
    """
    import urllib.error
    import urllib.request

    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    where = redact_url(tsa.url)
    request = (
        TimestampRequestBuilder()
        .data(text.encode())
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    post = urllib.request.Request(
        tsa.url,
        data=request.as_bytes(),
        headers={"Content-Type": QUERY, "Accept": REPLY},
        method="POST",
    )
    try:
        with urllib.request.urlopen(post, timeout=tsa.timeout) as answer:
            data: bytes = answer.read(TOKEN_MAX + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"TSA {where} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise TimestampError(f"TSA {where} did not answer: {reason}") from None
    if len(data) > TOKEN_MAX:
        raise TimestampError(f"TSA {where} answered more than {TOKEN_MAX} bytes")
    roots = load_certificates(tsa.ca_file) if tsa.ca_file is not None else None
    try:
        if roots is None:
            _check_content(data, text, request.nonce)
        else:
            check_token(data, text, roots, nonce=request.nonce)
    except TimestampError as exc:
        raise TimestampError(f"TSA {where}: {exc.message}") from None
    return data


def _check_content(data: bytes, text: str, nonce: int | None) -> TimeStampResponse:
    """The response granted a token over SHA-256 of `text` (with `nonce`, echoing it)."""
    from rfc3161_client import PKIStatus

    response = _decode(data)
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        detail = "; ".join(response.status_string) or "no reason given"
        raise TimestampError(f"the TSA refused: status {response.status} ({detail})")
    info = response.tst_info
    algorithm = info.message_imprint.hash_algorithm
    if algorithm.dotted_string != SHA256:
        name = _DIGEST_NAMES.get(algorithm.dotted_string, algorithm.dotted_string)
        raise TimestampError(f"imprint is {name}, expected SHA-256")
    digest = hashlib.sha256(text.encode()).digest()
    if info.message_imprint.message != digest:
        raise TimestampError(
            f"imprint got {info.message_imprint.message.hex()}, expected {digest.hex()} "
            "(SHA-256 of the checkpoint's note text): the token is over other bytes"
        )
    if nonce is not None and info.nonce != nonce:
        raise TimestampError(f"nonce got {info.nonce}, expected {nonce} (the request's)")
    return response
