"""The certificate chain a TLS server presents, fetched from the bench host and classified.

Why: the `leaf-as-ca` and `intermediate-as-ca` variants upload the server's own leaf or its
intermediate as the module's CA (the forum's first post: google.com's leaf as `$0` gave CI
0x26 on 3100C, F-HTTPS). On the simulator those files come from the local PKI; on a bench
the harness asks the target itself, once, over a TLS connection from the host (the module
is not involved), and splits what the server sent with `cryptography`. Nothing is verified
here: the chain is data for the variants, not trust.
"""

from __future__ import annotations

import _ssl
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

FETCH_TIMEOUT = 15.0  # connect + handshake from the bench host


class ChainError(Exception):
    """The chain could not be fetched or has no usable certificate; the text says why."""


@dataclass(frozen=True, slots=True)
class Chain:
    """What a server presented: its leaf, the first intermediate (a CA certificate that is
    not self-signed), and a self-signed root if the server sent one (most do not)."""

    leaf: x509.Certificate
    intermediate: x509.Certificate | None
    root: x509.Certificate | None

    def pem(self, which: str) -> bytes | None:
        cert = getattr(self, which)
        return cert.public_bytes(Encoding.PEM) if cert is not None else None


def self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the certificate's own key verifies its signature."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):  # TypeError: an unsupported key type
        return False
    return True


def classify(certs: list[x509.Certificate]) -> Chain:
    """Leaf = the first certificate sent (RFC 8446 §4.4.2); intermediate = the first later
    one that is not self-signed; root = a self-signed one, if sent."""
    if not certs:
        raise ChainError("the server sent no certificate")
    rest = certs[1:]
    intermediate = next((c for c in rest if not self_signed(c)), None)
    root = next((c for c in rest if self_signed(c)), None)
    return Chain(certs[0], intermediate, root)


def fetch(
    host: str, port: int = 443, *, server_name: str | None = None, timeout: float = FETCH_TIMEOUT
) -> Chain:
    """Connect from this host, complete a TLS handshake without verifying, and return the
    chain the server presented (SNI = `server_name` or `host`)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    where = f"{host}:{port}"
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name or host) as tls,
        ):
            ders = _presented(tls)
    except (OSError, ssl.SSLError) as exc:
        raise ChainError(f"cannot fetch the certificate chain of {where}: {exc}") from None
    try:
        certs = [x509.load_der_x509_certificate(d) for d in ders]
    except ValueError as exc:
        raise ChainError(f"{where} sent a certificate that does not parse: {exc}") from None
    return classify(certs)


def fetch_url(url: str, *, timeout: float = FETCH_TIMEOUT) -> Chain:
    """`fetch` for an https:// URL (its host, its port or 443)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ChainError(f"{url}: not an https:// URL with a host")
    return fetch(parts.hostname, parts.port or 443, timeout=timeout)


def _presented(tls: ssl.SSLSocket) -> list[bytes]:
    """DER certificates as sent. Python 3.13 has `SSLSocket.get_unverified_chain()`; 3.10-3.12
    have it only on the private `_sslobj`; without either, only the leaf is available."""
    for owner in (tls, getattr(tls, "_sslobj", None)):
        method = getattr(owner, "get_unverified_chain", None)
        if method is not None:
            chain = method() or []
            return [c if isinstance(c, bytes) else c.public_bytes(_ssl_der()) for c in chain]
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _ssl_der() -> int:
    return _ssl.ENCODING_DER  # (3.10-3.12 Certificate objects)
