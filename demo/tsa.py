"""A local RFC 3161 timestamp authority on 127.0.0.1, for the demo and the tests.

It holds its own CA and a TSA certificate (EC P-256, critical ``timeStamping`` extended
key usage, only the signer's certificate embedded in tokens) and answers
``application/timestamp-query`` POSTs with a token: TSTInfo in CMS SignedData, signed
attributes with the ESS signing-certificate-v2, all DER-encoded here. Tokens it makes
verify with ``openssl ts -verify`` and `rfc3161-client` alike.

A real deployment uses a real TSA; this one exists so that the demo and the tests run
offline. Its knobs make the tokens a verifier must refuse: an expired certificate, a
reply that ignores the nonce, a reply over other bytes.
"""

from __future__ import annotations

import hashlib
import http.server
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from assay.files import PRIVATE, private_dir, write_bytes

SHA256 = "2.16.840.1.101.3.4.2.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
POLICY = "1.3.6.1.4.1.57264.2"
"""The policy the local TSA stamps under (an arbitrary private OID)."""


# --- DER, the little of it a token needs ----------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(parts)))  # DER sorts a SET OF by encoding


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _explicit(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 | number, content)


def _time(moment: datetime) -> bytes:
    return _tlv(0x18, moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


def _read(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, end) of the element at `at`."""
    tag, first = data[at], data[at + 1]
    at += 2
    if first & 0x80:
        count = first & 0x7F
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    else:
        length = first
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[at : at + length], at + length


@dataclass(frozen=True)
class Query:
    """What a timestamp request asks: the imprint (its DER, echoed verbatim) and nonce."""

    imprint: bytes
    nonce: int | None
    cert_req: bool

    @classmethod
    def parse(cls, data: bytes) -> Query:
        tag, body, _ = _read(data, 0)
        if tag != 0x30:
            raise ValueError("a TimeStampReq is a SEQUENCE")
        _, _, at = _read(body, 0)  # version
        start = at
        tag, _, at = _read(body, at)
        if tag != 0x30:
            raise ValueError("expected the messageImprint")
        imprint, nonce, cert_req = body[start:at], None, False
        while at < len(body):
            tag, content, at = _read(body, at)
            if tag == 0x02:
                nonce = int.from_bytes(content, "big", signed=True)
            elif tag == 0x01:
                cert_req = content != b"\x00"
        return cls(imprint, nonce, cert_req)


def imprint(digest: bytes, algorithm: str = SHA256) -> bytes:
    """The DER MessageImprint of `digest` made with the hash `algorithm` (an OID)."""
    return _seq(_seq(_oid(algorithm)), _octets(digest))


# --- the authority ----------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass
class LocalTSA:
    """A CA, the TSA certificate it issued, and the TSA's key."""

    ca: x509.Certificate
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    ignore_nonce: bool = False
    """Answer every request with nonce 1: a reply a requester must refuse."""

    @classmethod
    def create(
        cls, name: str = "assay local TSA", *, valid: tuple[datetime, datetime] | None = None
    ) -> LocalTSA:
        """A fresh CA and TSA certificate; `valid` bounds the TSA certificate (default:
        from a day ago for ten years)."""
        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{name} CA"))
            .issuer_name(_name(f"{name} CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=2))
            .not_valid_after(now + timedelta(days=3660))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        start, end = valid or (now - timedelta(days=1), now + timedelta(days=3650))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        return cls(ca, certificate, key)

    def ca_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def at(cls, directory: Path) -> LocalTSA:
        """The TSA kept in `directory` (``ca.pem``, ``tsa.pem``, ``tsa.key``), made there
        on first use: the same authority from one demo run to the next."""
        files = [directory / name for name in ("ca.pem", "tsa.pem", "tsa.key")]
        if all(path.exists() for path in files):
            key = serialization.load_pem_private_key(files[2].read_bytes(), None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{files[2]}: expected an EC private key")
            return cls(
                x509.load_pem_x509_certificate(files[0].read_bytes()),
                x509.load_pem_x509_certificate(files[1].read_bytes()),
                key,
            )
        tsa = cls.create()
        private_dir(directory)
        tsa.write_ca(files[0])
        cert = tsa.certificate.public_bytes(serialization.Encoding.PEM)
        write_bytes(files[1], cert, mode=0o644)
        secret = tsa.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_bytes(files[2], secret, mode=PRIVATE)
        return tsa

    def write_ca(self, path: Path) -> Path:
        """The CA certificate as PEM at `path`: what a verifier trusts (``--tsa-ca``)."""
        write_bytes(path, self.ca_pem(), mode=0o644)
        return path

    def reply(self, query: bytes, *, at: datetime | None = None) -> bytes:
        """The DER TimeStampResp granting a token for the DER TimeStampReq `query`."""
        asked = Query.parse(query)
        nonce = 1 if self.ignore_nonce else asked.nonce
        return self.stamp(asked.imprint, nonce, at=at)

    def stamp(
        self, message_imprint: bytes, nonce: int | None, *, at: datetime | None = None
    ) -> bytes:
        """A granted TimeStampResp over the DER `message_imprint` (see `imprint`)."""
        fields = [
            _int(1),
            _oid(POLICY),
            message_imprint,
            _int(secrets.randbits(63)),  # unique across runs of a TSA kept on disk
            _time(at or datetime.now(UTC)),
        ]
        if nonce is not None:
            fields.append(_int(nonce))
        tst_info = _seq(*fields)
        return _seq(_seq(_int(0)), self._signed(tst_info))

    def _signed(self, tst_info: bytes) -> bytes:
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        issuer = self.certificate.issuer.public_bytes()
        attributes = [
            _seq(_oid(_CONTENT_TYPE), _set(_oid(_TST_INFO))),
            _seq(_oid(_MESSAGE_DIGEST), _set(_octets(hashlib.sha256(tst_info).digest()))),
            _seq(
                _oid(_SIGNING_CERTIFICATE_V2),
                _set(_seq(_seq(_seq(_octets(hashlib.sha256(cert_der).digest()))))),
            ),
        ]
        signed_attrs = _set(*attributes)
        signature = self.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        signer_info = _seq(
            _int(1),
            _seq(issuer, _int(self.certificate.serial_number)),
            _seq(_oid(SHA256)),
            b"\xa0" + signed_attrs[1:],  # the same SET, tagged [0] IMPLICIT
            _seq(_oid(_ECDSA_SHA256)),
            _octets(signature),
        )
        signed_data = _seq(
            _int(3),
            _set(_seq(_oid(SHA256))),
            _seq(_oid(_TST_INFO), _explicit(0, _octets(tst_info))),
            _tlv(0xA0, cert_der),
            _set(signer_info),
        )
        return _seq(_oid(_SIGNED_DATA), _explicit(0, signed_data))

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve on 127.0.0.1 (a free port) in a thread; yields the URL to POST to."""
        authority = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    answer = authority.reply(self.rfile.read(length))
                except (ValueError, IndexError):
                    self.send_error(400, "not a timestamp request")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the demo prints what matters

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
