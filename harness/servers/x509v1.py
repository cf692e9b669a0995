"""X.509 v1 certificates, for the firmware that takes no v3 client certificate (D-TLS-101:
LTE-M "do not support X509 v3 certificates and extensions for the client certificate").

`cryptography` builds only v3 (`CertificateBuilder` has no version), so the TBSCertificate is
written here in DER (RFC 5280 §4.1: a v1 certificate omits the `[0] version` field and has no
extensions) from parts `cryptography` encodes (names, the public key), signed with the
issuer's key by `cryptography`, and read back with `load_der_x509_certificate`, which checks
the structure. The result verifies against its issuer like any certificate (openssl too).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# AlgorithmIdentifier sha256WithRSAEncryption (OID 1.2.840.113549.1.1.11, NULL parameters)
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
UTC_TIME_LAST_YEAR = 2049  # RFC 5280 §4.1.2.5: UTCTime through 2049, then GeneralizedTime


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("a certificate serial number is positive (RFC 5280 §4.1.2.2)")
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return _tlv(0x02, raw)


def _time(when: dt.datetime) -> bytes:
    when = when.astimezone(dt.UTC)
    if when.year <= UTC_TIME_LAST_YEAR:
        return _tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode())


def build_v1(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
) -> x509.Certificate:
    """A v1 certificate (no version field, no extensions) signed SHA-256/RSA by `issuer_key`."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tbs = _tlv(0x30, b"".join((
        _integer(serial if serial is not None else x509.random_serial_number()),
        SHA256_WITH_RSA,
        issuer.public_bytes(),
        _tlv(0x30, _time(not_before) + _time(not_after)),
        subject.public_bytes(),
        spki,
    )))  # fmt: skip
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    der = _tlv(0x30, tbs + SHA256_WITH_RSA + _tlv(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)
