"""The TLS certificate set-ups the HTTPS suite runs, as data.

Each variant says which files go to `/flash/cert` (by their PKI name, see
`harness.servers.FILES`), what `$0` is set to, which server it talks to (plain TLS or
mutual TLS), and what the module should do: answer (`ok`) or fail for a reason. Reasons
are the simulator's `Failure` values (`tls_auth`, `tls_config`, `tls_handshake`); which
code a reason becomes is personality data, so the expectation holds on every firmware.
Where a variant's outcome rests on an inference of the reference, `basis` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.xbee.firmware import Family, TlsLimits

OK = "ok"
LONG_CN_LENGTH = 33  # harness.servers.LONG_CN: over D-TLS-101's 31


@dataclass(frozen=True)
class Upload:
    """One file for `/flash/cert`: its name on the module and its PKI name on the host."""

    name: str
    pki: str
    secure: bool = False  # ATFS XPUT: private keys (D-TLS p.100)


@dataclass(frozen=True)
class TlsVariant:
    name: str
    profile: str  # the $0 string, "ca;cert;key" (D-TLS p.100)
    expect: str  # OK or a failure reason
    server: str = "tls"  # "tls" or "mutual"
    uploads: tuple[Upload, ...] = field(default=())
    basis: str = ""  # source tag or the assumption that decides the expectation
    # the firmware limit this variant tests: its outcome on a known family, from the family's
    # TLS limits (harness/xbee/firmware.py); `expect` is the outcome on an unknown firmware
    limit: Callable[[TlsLimits], str] | None = None

    @property
    def expects_success(self) -> bool:
        return self.expect == OK

    def expect_for(self, family: Family | None) -> str:
        """The outcome on this firmware family (`expect` when unknown or no limit applies)."""
        if family is None or self.limit is None:
            return self.expect
        return self.limit(family.tls)


def _ciphers(tls: TlsLimits) -> str:  # F-SNI: an RSA-AES-CBC list meets no ECDHE-only server
    return "tls_handshake" if tls.ciphers is not None and "ECDHE" not in tls.ciphers else OK


def _long_cn(tls: TlsLimits) -> str:  # D-TLS-101
    too_long = tls.max_server_cn is not None and tls.max_server_cn < LONG_CN_LENGTH
    return "tls_handshake" if too_long else OK


def _sni(tls: TlsLimits) -> str:  # D-XS p.167
    return OK if tls.sends_sni else "tls_handshake"


def _pkcs8(tls: TlsLimits) -> str:  # D-TLS-101, A-TLS-KEY-PKCS1
    return OK if "pkcs8" in tls.key_formats else "tls_config"


def _client_v3(tls: TlsLimits) -> str:  # D-TLS-101: no v3 client certificates on LTE-M
    from harness.xbee.firmware import CLIENT_V3_FAILURE

    return OK if tls.client_cert_v3 else CLIENT_V3_FAILURE  # A-TLS-CLIENT-V3


_ROOT = Upload("root.crt", "root_ca")
_LEAF = Upload("wgc.crt", "server_cert")  # the forum's name for google.com's certificate
_INTER = Upload("inter.crt", "intermediate_ca")
_WRONG = Upload("other.crt", "wrong_ca")
_CLIENT = Upload("client.crt", "client_cert")
_CLIENT_V1 = Upload("client1.crt", "client_cert_v1")  # X.509 v1: no extensions (D-TLS-101)
_KEY = Upload("client.key", "client_key", secure=True)
_KEY8 = Upload("client8.key", "client_key_pkcs8", secure=True)

VARIANTS: dict[str, TlsVariant] = {
    v.name: v
    for v in (
        TlsVariant("no-ca", ";;", OK, basis="D-TLS p.100: ;; = encrypted, not authenticated"),
        TlsVariant("root-ca", "root.crt;;", OK, uploads=(_ROOT,), basis="D-TLS p.100"),
        TlsVariant(
            "leaf-as-ca", "wgc.crt;;", "tls_auth", uploads=(_LEAF,),
            basis="D-TLS p.100: a non-self-signed certificate is not a CA; F-HTTPS",
        ),
        TlsVariant(
            "intermediate-as-ca", "inter.crt;;", "tls_auth", uploads=(_INTER,),
            basis="D-TLS p.100: intermediate CAs are not enough",
        ),
        TlsVariant("wrong-ca", "other.crt;;", "tls_auth", uploads=(_WRONG,), basis="D-TLS"),
        TlsVariant(
            "missing-file", "absent.crt;;", "tls_config",
            basis="D-89 0x86: invalid TLS configuration (missing file)",
        ),
        TlsVariant(
            "path-absolute", "/flash/cert/root.crt;;", OK, uploads=(_ROOT,),
            basis="D-TLS p.100: absolute paths start with /flash",
        ),
        TlsVariant(
            "path-relative", "../cert/root.crt;;", OK, uploads=(_ROOT,),
            basis="D-TLS p.100: relative to certs/",
        ),
        TlsVariant(
            "path-no-slash", "flash/cert/root.crt;;", "tls_config", uploads=(_ROOT,),
            basis="inference from D-TLS p.100 (A-TLS-NOSLASH): resolves under /flash/cert/flash",
        ),
        TlsVariant(
            "client-cert", "root.crt;client.crt;client.key", OK, server="mutual",
            uploads=(_ROOT, _CLIENT, _KEY), limit=_client_v3,
            basis="D-TLS p.100: client cert and PKCS#1 key; the certificate is X.509 v3, which "
            "LTE-M does not take (D-TLS-101, A-TLS-CLIENT-V3)",
        ),
        TlsVariant(
            "client-cert-v1", "root.crt;client1.crt;client.key", OK, server="mutual",
            uploads=(_ROOT, _CLIENT_V1, _KEY),
            basis="D-TLS-101: LTE-M takes no X.509 v3 client certificate; the same key's v1 "
            "certificate (no extensions) is one every firmware takes (A-TLS-CLIENT-V3)",
        ),
        TlsVariant(
            "mutual-no-client-cert", "root.crt;;", "tls_handshake", server="mutual",
            uploads=(_ROOT,), basis="D-TLS p.100: no client cert may fail mutual auth",
        ),
        # The firmware's TLS limits (field-evidence §2): each against a server of its own.
        TlsVariant(
            "ecdhe-only-server", ";;", "tls_handshake", server="ecdhe", limit=_ciphers,
            basis="F-SNI: LTE-M offers only RSA AES-CBC suites, an ECDHE-only server gives "
            "TX 0x85; Cat 1's list unknown (A-TLS-LIMITS)",
        ),
        TlsVariant(
            "long-cn", ";;", "tls_handshake", server="long-cn", limit=_long_cn,
            basis="D-TLS-101: SARA-R410, server CN over 31 characters fails (A-TLS-LONG-CN)",
        ),
        TlsVariant(
            "sni-required", ";;", "tls_handshake", server="sni", limit=_sni,
            basis="D-XS p.167: SNI not supported; a server that requires it refuses",
        ),
        TlsVariant(
            "pkcs8-key", "root.crt;client.crt;client8.key", "tls_config", server="mutual",
            uploads=(_ROOT, _CLIENT, _KEY8), limit=_pkcs8,
            basis="D-TLS-101: PKCS#1 the only format common to every variant (A-TLS-KEY-PKCS1)",
        ),
    )
}


def get(name: str) -> TlsVariant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown TLS variant {name!r}; known: {', '.join(VARIANTS)}") from None
