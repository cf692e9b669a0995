"""Digi's certificate rules applied to Python's `ssl`: a client context as the module builds one.

The simulated module does real TLS, so its failures are real handshake failures for the
reasons the real module has them (reference §5):

- no CA → encrypted, not authenticated (CERT_NONE) — D-TLS p.100 `;;` "legacy behavior";
- the CA file must hold one certificate, a self-signed root. "The modules do not allow a
  non-self signed certificate to work, so intermediate CAs are not enough" (D-TLS p.100):
  a leaf or intermediate as CA loads nothing as trust, so the *handshake* fails with
  certificate-verify-failed, which `classify` maps to `Failure.TLS_AUTH` (the forum's CI 0x26);
- no SNI is sent (D-XS p.167, F-SNI) and no host name is checked (A-TLS-NOHOSTCHECK);
- TL picks the protocol version, min = max (F-AZ, A-TL-VALUES);
- a client certificate and an unencrypted PKCS#1 key (`BEGIN RSA PRIVATE KEY`, D-TLS p.101)
  are presented when the server asks; anything else is `Failure.TLS_CONFIG` before connecting;
- the firmware family's limits (`harness.xbee.firmware.TlsLimits`): the cipher suites it
  offers (F-SNI), the longest server CN (D-TLS-101), v3 client certificates (D-TLS-101) and
  the key formats it reads (PKCS#8 only where the family says so, A-TLS-KEY-PKCS1).
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.sim.core.effects import Failure, TlsSettings
from harness.sim.core.tlsfiles import TlsConfigError
from harness.xbee import firmware as fw
from harness.xbee.firmware import TlsLimits

PKCS1_HEADER = b"-----BEGIN RSA PRIVATE KEY-----"  # D-TLS p.101
PKCS8_HEADER = b"-----BEGIN PRIVATE KEY-----"  # PKCS#8, unencrypted
# What a v3 client certificate does where the firmware takes none (D-TLS-101 says "not
# supported", not how it fails): refused before connecting. ASSUMPTION A-TLS-CLIENT-V3.
CLIENT_V3_FAILURE = Failure(fw.CLIENT_V3_FAILURE)
# A server CN over the limit: "the SSL connection fails" (D-TLS-101), after the handshake
# the module reports as a handshake failure. ASSUMPTION A-TLS-LONG-CN.
LONG_CN_FAILURE = Failure.TLS_HANDSHAKE
ENCRYPTED_MARKERS = (b"Proc-Type: 4,ENCRYPTED", b"BEGIN ENCRYPTED PRIVATE KEY")  # D-TLS p.101
PEM_CERT_HEADER = b"-----BEGIN CERTIFICATE-----"

# What a CA file with more than one certificate does. The guide says the module "only supports
# certificate files that contain a single certificate" (D-TLS p.101) but not what happens
# otherwise; we refuse it before connecting. ASSUMPTION A-TLS-MULTICERT.
MULTI_CERT_FAILURE = Failure.TLS_CONFIG

# Certificate files in DER (not PEM): acceptance is UNVERIFIED (reference §5.3); we refuse.
# ASSUMPTION A-TLS-PEM-ONLY.
ACCEPT_DER = False


@dataclass(frozen=True, slots=True)
class ClientTls:
    """A ready client context plus how it was built (for logs and reports; no secrets)."""

    context: ssl.SSLContext
    authenticated: bool  # a usable self-signed CA was loaded
    trust_note: str  # why the trust store is what it is, e.g. "CA is not self-signed"
    presents_client_cert: bool
    limits: TlsLimits = field(default_factory=TlsLimits)

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        """Wrap a connected socket the module's way: no SNI, handshake left to the caller."""
        return self.context.wrap_socket(sock, server_hostname=None, do_handshake_on_connect=False)


def client_context(settings: TlsSettings) -> ClientTls:
    """Build the client side of a TLS connection from a resolved profile, or raise
    `TlsConfigError` for a profile the module would refuse before connecting."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # loads no system CAs
    ctx.check_hostname = False  # A-TLS-NOHOSTCHECK; also required for server_hostname=None
    limits = settings.limits or TlsLimits()
    _set_version(ctx, settings.version)
    _set_ciphers(ctx, limits)
    authenticated, note = _load_trust(ctx, settings.ca_pem)
    presents = _load_client_identity(ctx, settings.cert_pem, settings.key_pem, limits)
    return ClientTls(ctx, authenticated, note, presents, limits)


class PeerRejected(Exception):
    """The handshake completed but the module's stack refuses the server (a CN too long)."""


def check_peer(sock: ssl.SSLSocket, limits: TlsLimits) -> None:
    """After the handshake: the server certificate's CN within the firmware's limit
    (D-TLS-101: "greater than 31 characters the SSL connection fails"), else PeerRejected."""
    if limits.max_server_cn is None:
        return
    der = sock.getpeercert(binary_form=True)
    if not der:
        return
    cert = x509.load_der_x509_certificate(der)
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        cn = attr.value if isinstance(attr.value, str) else attr.value.decode(errors="replace")
        if len(cn) > limits.max_server_cn:
            raise PeerRejected(
                f"server certificate CN is {len(cn)} characters, over {limits.max_server_cn}"
                " (D-TLS-101)"
            )


def classify(error: BaseException) -> Failure:
    """The `Failure` a handshake (or first-read) error stands for.

    Verification of the server's certificate failed → TLS_AUTH (D-89 0x8B, D-CI 0x2F; the
    forum's 0x26 on Cat 1 is the personality's mapping of this reason). Anything else during
    TLS — version or cipher mismatch, the server refusing a missing client certificate, a
    reset mid-handshake — is TLS_HANDSHAKE (F-SNI: cipher mismatch reported as 0x85).
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        return Failure.TLS_AUTH
    if isinstance(error, PeerRejected):
        return LONG_CN_FAILURE
    if isinstance(error, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(error):
        return Failure.TLS_AUTH
    return Failure.TLS_HANDSHAKE


def describe(error: BaseException) -> str:
    """A one-line text for logs: the ssl reason and verify message, no key material."""
    if isinstance(error, PeerRejected):
        return f"server refused by the module: {error}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message} (code {error.verify_code})"
    if isinstance(error, ssl.SSLError):
        return f"TLS error {error.reason or ''}: {error.strerror or error}".strip()
    return f"{type(error).__name__}: {error}"


# ----- the rules ----------------------------------------------------------------------------


def _set_version(ctx: ssl.SSLContext, version: str | None) -> None:
    if version is None:
        return
    try:
        member = ssl.TLSVersion[version.replace(".", "_")]
    except KeyError:
        raise TlsConfigError(f"unknown TLS version {version!r}") from None
    if member in (ssl.TLSVersion.SSLv3, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        # OpenSSL 3 refuses these at its default security level; the module offers them.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        ctx.minimum_version = member
        ctx.maximum_version = member
    except (ValueError, ssl.SSLError) as exc:
        raise TlsConfigError(f"TLS version {version} not available here: {exc}") from None


def _set_ciphers(ctx: ssl.SSLContext, limits: TlsLimits) -> None:
    """Offer only the firmware's suites (F-SNI). They are TLS 1.2 suites: TLS 1.3 has its
    own, so a firmware with a list is held at TLS 1.2 at most."""
    if limits.ciphers is None:
        return
    try:
        ctx.set_ciphers(limits.ciphers)
    except ssl.SSLError as exc:
        raise TlsConfigError(f"cipher list {limits.ciphers!r} not available here: {exc}") from None
    if ctx.maximum_version in (ssl.TLSVersion.MAXIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_3):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2


def _load_trust(ctx: ssl.SSLContext, ca_pem: bytes | None) -> tuple[bool, str]:
    if not ca_pem:
        ctx.verify_mode = ssl.CERT_NONE  # D-TLS p.100: "not authenticated"
        return False, "no CA: server not authenticated"
    certs = _load_certs(ca_pem, "CA file")
    if len(certs) != 1:
        raise TlsConfigError(
            f"CA file holds {len(certs)} certificates; the module takes one (D-TLS p.101)",
            MULTI_CERT_FAILURE,
        )
    ca = certs[0]
    ctx.verify_mode = ssl.CERT_REQUIRED
    if not is_self_signed(ca):
        # D-TLS p.100: a non-self-signed certificate does not work as CA. Trust nothing, so
        # the real handshake fails with "unable to get local issuer certificate".
        return False, f"CA {_name(ca)} is not self-signed: nothing trusted"
    ctx.load_verify_locations(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return True, f"trusting self-signed {_name(ca)}"


def _load_client_identity(
    ctx: ssl.SSLContext, cert_pem: bytes | None, key_pem: bytes | None, limits: TlsLimits
) -> bool:
    if not cert_pem and not key_pem:
        return False  # D-TLS: "empty ⇒ no certificate"
    if not cert_pem:
        raise TlsConfigError("client key given without a client certificate")
    if not key_pem:
        # D-TLS: the key "should always be provided if client_cert is provided"
        raise TlsConfigError("client certificate given without a client key")
    certs = _load_certs(cert_pem, "client certificate file")
    if len(certs) != 1:
        raise TlsConfigError(
            f"client certificate file holds {len(certs)} certificates; the module takes one"
            " (D-TLS p.101)"
        )
    if not limits.client_cert_v3 and certs[0].version is x509.Version.v3:
        raise TlsConfigError(
            "client certificate is X.509 v3; this firmware takes no v3 client certificates"
            " (D-TLS-101)", CLIENT_V3_FAILURE,
        )
    key = _load_key(key_pem, limits.key_formats)
    if not _key_matches(key, certs[0]):
        # D-TLS: a key that does not "match the certificate" makes client authentication
        # fail. Present nothing, so a server that asks rejects the handshake (A-TLS-KEYMISMATCH).
        return False
    _load_chain(ctx, certs[0], key)
    return True


def _load_certs(data: bytes, what: str) -> list[x509.Certificate]:
    if PEM_CERT_HEADER in data:
        try:
            return x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise TlsConfigError(f"{what}: not a readable PEM certificate ({exc})") from None
    if ACCEPT_DER:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            pass
    raise TlsConfigError(f"{what}: no PEM certificate in {len(data)} bytes")


def _load_key(data: bytes, formats: tuple[str, ...] = ("pkcs1",)) -> rsa.RSAPrivateKey:
    """An unencrypted RSA key in a format the firmware reads: PKCS#1 everywhere (D-TLS-101),
    PKCS#8 where the family lists it (A-TLS-KEY-PKCS1)."""
    if any(marker in data for marker in ENCRYPTED_MARKERS):
        raise TlsConfigError("client key is encrypted; the module takes unencrypted keys (D-TLS)")
    pkcs8_ok = "pkcs8" in formats and PKCS8_HEADER in data
    if PKCS1_HEADER not in data and not pkcs8_ok:
        taken = " or ".join(f.upper().replace("PKCS", "PKCS#") for f in formats)
        raise TlsConfigError(f"client key is not {taken} (D-TLS-101, A-TLS-KEY-PKCS1)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise TlsConfigError(f"client key unreadable: {type(exc).__name__}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TlsConfigError("client key is not an RSA key")
    return key


def _key_matches(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bool:
    pub = cert.public_key()
    return (
        isinstance(pub, rsa.RSAPublicKey)
        and pub.public_numbers() == key.public_key().public_numbers()
    )


def _load_chain(ctx: ssl.SSLContext, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> None:
    """`ssl` loads a client identity only from files: write them to a private temporary
    directory, load, and remove them at once (the key never stays on disk)."""
    cert_bytes = cert.public_bytes(serialization.Encoding.PEM)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory(prefix="xbee-sim-tls-") as tmp:
        cert_path = os.path.join(tmp, "client.crt")
        key_path = os.path.join(tmp, "client.key")
        for path, data in ((cert_path, cert_bytes), (key_path, key_bytes)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"client certificate/key rejected: {exc.reason}") from None


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the certificate's signature verifies with its own key."""
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"
