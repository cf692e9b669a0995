"""A throwaway PKI for the simulator's internet, made with `cryptography`.

`Pki.create(dir)` makes the chain the forum thread met (F-HTTPS): a self-signed root (like
GlobalSign) → an intermediate (like Google's issuing CA) → a leaf for `google.com`; the HTTPS
server presents leaf + intermediate, as google.com does. Also a second unrelated root ("wrong
CA"), a self-signed server certificate, and a client CA with a client certificate (v3, and the
same as v1 for LTE-M, D-TLS-101) and a PKCS#1 key (D-TLS p.101), plus keys in the forms the
module refuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.servers.x509v1 import build_v1

SERVER_NAMES = ("google.com", "www.google.com")  # F-HTTPS: DL=google.com
KEY_BITS = 2048
VALID_DAYS = 30


# File names inside the PKI directory; tests upload them to /flash/cert under any name.
FILES = {
    "root_ca": "root-ca.crt",  # self-signed root: "the top of its certification path" (F-HTTPS)
    "intermediate_ca": "intermediate-ca.crt",
    "server_cert": "server.crt",  # the leaf for google.com (the forum's wgc.crt)
    "server_key": "server.key",
    "server_chain": "server-chain.crt",  # leaf + intermediate, what the server presents
    "wrong_ca": "wrong-ca.crt",  # a self-signed root that signed nothing here
    "selfsigned_cert": "selfsigned.crt",  # a server outside any PKI (L-MP ussl: usable as CA)
    "selfsigned_key": "selfsigned.key",
    "client_ca": "client-ca.crt",
    "client_cert": "client.crt",
    # the same key's certificate as X.509 v1 (no extensions): what LTE-M takes (D-TLS-101)
    "client_cert_v1": "client-v1.crt",
    "client_key": "client.key",  # PKCS#1, unencrypted: what the module takes (D-TLS p.101)
    # same key as PKCS#8: D-TLS-101 guarantees only PKCS#1; whether a firmware reads PKCS#8
    # is its family's `key_formats` (A-TLS-KEY-PKCS1)
    "client_key_pkcs8": "client-pkcs8.key",
    "client_key_encrypted": "client-encrypted.key",  # same key, encrypted: refused (D-TLS p.101)
    "other_client_cert": "other-client.crt",  # a client certificate from the wrong CA
    "other_client_key": "other-client.key",
    # a leaf for google.com whose CN is over 31 characters (D-TLS-101: SARA-R410 fails)
    "long_cn_cert": "long-cn.crt",
    "long_cn_key": "long-cn.key",
    "long_cn_chain": "long-cn-chain.crt",
}
DEFAULT_SERVER_CIPHERS = "DEFAULT"
LONG_CN = "www.a-long-common-name.google.com"  # 33 characters: over D-TLS-101's 31
# A server that offers only ECDHE suites (F-SNI's server: "none of the server's ECDHE/DHE
# suites" are the LTE-M's), TLS 1.2 (TLS 1.3 suites are not set by a cipher list).
ECDHE_ONLY = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
ENCRYPTED_KEY_PASSWORD = b"xbee-hil-test"


@dataclass(frozen=True)
class Pki:
    """Paths of a PKI written by `create`; `read(name)` gives a file's bytes."""

    dir: Path
    hostnames: tuple[str, ...] = SERVER_NAMES

    @classmethod
    def create(
        cls, directory: str | Path, hostnames: Iterable[str] = SERVER_NAMES, *, fresh: bool = False
    ) -> Pki:
        """Write every key and certificate into `directory` (created if needed).

        The PKI is generated once per process and host names (11 RSA keys: ~1 s, the largest
        CPU cost of a fast-simulator run that starts four rigs; issue 13) and written again
        for the next rig; `fresh=True` generates a new one."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        names = tuple(hostnames)
        files = None if fresh else _MADE.get(names)
        if files is None:
            files = _generate(names)
            _MADE[names] = files
        for key, data in files.items():
            path = d / FILES[key]
            path.write_bytes(data)
            if key.endswith("key") or "_key" in key:
                path.chmod(0o600)
        return cls(d, names)

    def path(self, name: str) -> Path:
        """Path of a PKI file by its key in `FILES` (e.g. "root_ca")."""
        try:
            return self.dir / FILES[name]
        except KeyError:
            raise KeyError(f"no PKI file {name!r}; known: {', '.join(FILES)}") from None

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def __getattr__(self, name: str) -> Path:
        if name in FILES:
            return self.dir / FILES[name]
        raise AttributeError(name)


# Generated PKIs of this process by host names (`Pki.create`): a rig reuses the last one.
_MADE: dict[tuple[str, ...], dict[str, bytes]] = {}


def _generate(names: tuple[str, ...]) -> dict[str, bytes]:
    """Every key and certificate of the PKI, as file contents by `FILES` key."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    files: dict[str, bytes] = {}
    root_key, root = _ca("xbee-hil Sim Root R1", "xbee-hil Trust Services", now)
    inter_key = _rsa()
    inter = _cert(
        _name("xbee-hil Sim Issuing CA 1C3", "xbee-hil Trust Services"),
        inter_key,
        root.subject,
        root_key,
        now,
        ca=True,
        path_length=0,
    )
    leaf_key = _rsa()
    leaf = _cert(
        _name(names[0], "xbee-hil Test Server"),
        leaf_key,
        inter.subject,
        inter_key,
        now,
        sans=names,
        eku=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    wrong_key, wrong = _ca("xbee-hil Unrelated Root", "Nobody Here", now)
    del wrong_key
    ss_key = _rsa()
    ss = _cert(
        _name(names[0], "xbee-hil Self-Signed"),
        ss_key,
        None,
        ss_key,
        now,
        sans=names,
        eku=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    cca_key, cca = _ca("xbee-hil Client CA", "xbee-hil Devices", now)
    client_key = _rsa()
    client = _cert(
        _name("xbee3-sim-device", "xbee-hil Devices"),
        client_key,
        cca.subject,
        cca_key,
        now,
        eku=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    other_key = _rsa()
    other = _cert(
        _name("stranger-device", "Nobody Here"),
        other_key,
        None,
        other_key,
        now,
        eku=ExtendedKeyUsageOID.CLIENT_AUTH,
    )

    files["root_ca"] = _pem(root)
    files["intermediate_ca"] = _pem(inter)
    files["server_cert"] = _pem(leaf)
    files["server_key"] = _key_pem(leaf_key)
    files["server_chain"] = _pem(leaf) + _pem(inter)
    files["wrong_ca"] = _pem(wrong)
    files["selfsigned_cert"] = _pem(ss)
    files["selfsigned_key"] = _key_pem(ss_key)
    files["client_ca"] = _pem(cca)
    files["client_cert"] = _pem(client)
    files["client_cert_v1"] = _pem(build_v1(
        _name("xbee3-sim-device", "xbee-hil Devices"), client_key.public_key(),
        cca.subject, cca_key, now, now + dt.timedelta(days=VALID_DAYS),
    ))  # fmt: skip
    files["client_key"] = _key_pem(client_key)
    files["client_key_pkcs8"] = _key_pem(client_key, pkcs8=True)
    files["client_key_encrypted"] = _key_pem(client_key, password=ENCRYPTED_KEY_PASSWORD)
    lc_key = _rsa()
    long_cn = _cert(
        _name(LONG_CN, "xbee-hil Test Server"), lc_key, inter.subject, inter_key, now,
        sans=(LONG_CN, *names), eku=ExtendedKeyUsageOID.SERVER_AUTH,
    )  # fmt: skip
    files["long_cn_cert"] = _pem(long_cn)
    files["long_cn_key"] = _key_pem(lc_key)
    files["long_cn_chain"] = _pem(long_cn) + _pem(inter)
    files["other_client_cert"] = _pem(other)
    files["other_client_key"] = _key_pem(other_key)
    return files


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(cn: str, org: str, now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _rsa()
    return key, _cert(_name(cn, org), key, None, key, now, ca=True)


def _cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name | None,
    issuer_key: rsa.RSAPrivateKey,
    now: dt.datetime,
    *,
    ca: bool = False,
    path_length: int | None = None,
    sans: Iterable[str] = (),
    eku: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=True)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=not ca,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    names = list(sans)
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(
    key: rsa.RSAPrivateKey, *, pkcs8: bool = False, password: bytes | None = None
) -> bytes:
    fmt = (
        serialization.PrivateFormat.PKCS8
        if pkcs8
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)
