"""Firmware families as data: how one is recognised from VR/HV, the code each failure reason
gives per code kind, which codes cannot tell reasons apart, and what the firmware can do.

One table for the simulator (a personality names its family and takes its codes and features
from here) and for the suites on every device (the VR/HV the harness reads pick the family),
so a firmware's knowledge is written once. Rows carry their provenance: a source tag of
`shared/reference/xbee3-protocol.md`, or an assumption id of docs/assumptions.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from harness.xbee.codes import Reason, generic_reason

CODE_KINDS = ("ci", "tx_status", "socket_status")
CI_NO_STATUS = 0xFF  # D-CI "No known status"
# The simulator's failure reasons (harness.sim.core.effects.Failure values) and their families.
FAILURE_REASONS: Mapping[str, Reason] = MappingProxyType(
    {
        "not_registered": Reason.NOT_REGISTERED,
        "dns_failed": Reason.DNS,
        "no_route": Reason.NO_ROUTE,
        "refused": Reason.REFUSED,
        "timeout": Reason.NO_ROUTE,
        "tls_config": Reason.TLS_CONFIG,
        "tls_auth": Reason.TLS_AUTH,
        "tls_handshake": Reason.TLS_HANDSHAKE,
        "closed_by_peer": Reason.CLOSED_BY_PEER,
        "reset_by_peer": Reason.CLOSED_BY_PEER,
        "inactivity": Reason.CLOSED_BY_HOST,
        "closed_by_host": Reason.CLOSED_BY_HOST,
    }
)


@dataclass(frozen=True)
class Codes:
    """The codes one failure reason gives: CI (IP=1/4 table), 0x89 TX status, 0xCF status."""

    ci: int
    tx_status: int
    socket_status: int
    source: str  # source tags, or "assumption: <id> ..." with its evidence
    assumption: bool = False

    def of(self, kind: str) -> int:
        if kind not in CODE_KINDS:
            raise KeyError(f"code kind {kind!r}; expected one of {', '.join(CODE_KINDS)}")
        return int(getattr(self, kind))


KEY_FORMATS = ("pkcs1", "pkcs8")
# What an X.509 v3 client certificate does where the firmware takes none (D-TLS-101 says "not
# supported", not how it fails): refused before connecting, a TLS configuration failure. One
# value for the simulator (harness/sim/host/tlsrules.py) and the `client-cert` variant's
# expectation. ASSUMPTION A-TLS-CLIENT-V3.
CLIENT_V3_FAILURE = "tls_config"


@dataclass(frozen=True)
class TlsLimits:
    """What the firmware's TLS client can do (D-TLS-101, F-SNI): the suites' expectations for
    the limit variants and the simulator's client context read the same row."""

    ciphers: str | None = None  # OpenSSL cipher list it offers; None: unknown (host default)
    max_server_cn: int | None = None  # longest server-certificate CN that works; None: any
    client_cert_v3: bool = True  # takes an X.509 v3 client certificate with extensions
    key_formats: tuple[str, ...] = ("pkcs1",)  # client-key PEM formats it reads
    sends_sni: bool = False  # D-XS p.167: SNI "not currently supported"
    source: str = "assumption A-TLS-LIMITS: no limit known beyond D-TLS p.101 (PKCS#1 key)"

    def __post_init__(self) -> None:
        bad = sorted(set(self.key_formats) - set(KEY_FORMATS))
        if bad or "pkcs1" not in self.key_formats:
            raise ValueError(f"key_formats {self.key_formats}: PKCS#1 is guaranteed "
                             f"(D-TLS-101); known formats: {', '.join(KEY_FORMATS)}")


@dataclass(frozen=True)
class Family:
    """One firmware family (e.g. every XBee3 Cat 1 AT&T 310xx)."""

    name: str
    product: str
    vr_prefix: str  # leading hex digits of VR (reference §7.1)
    hv_msb: int | None  # HV's high byte (L-PY hw.py), checked when the module reports one
    source: str
    features: Mapping[str, str]  # feature name -> source
    codes: Mapping[str, Codes]  # failure reason (FAILURE_REASONS key) -> codes
    # Failure reasons after which this firmware may write no CI code in transparent mode, so
    # CI stays 0xFF "No known status" (D-CI): failure reason -> source (A-CI-TLS-FF).
    ci_unwritten: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tls: TlsLimits = field(default_factory=TlsLimits)
    _by_code: dict[tuple[str, int], frozenset[Reason]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        missing = sorted(set(FAILURE_REASONS) - set(self.codes))
        if missing:
            raise ValueError(f"firmware family {self.name}: no codes for {missing}")
        unknown = sorted(set(self.ci_unwritten) - set(FAILURE_REASONS))
        if unknown:
            raise ValueError(f"firmware family {self.name}: ci_unwritten names {unknown}")
        for failure, row in self.codes.items():
            for kind in CODE_KINDS:
                key = (kind, row.of(kind))
                self._by_code[key] = self._by_code.get(key, frozenset()) | {
                    FAILURE_REASONS[failure]
                }

    def code(self, failure: str, kind: str) -> int:
        """The code a failure reason (`tls_auth`, …) gives in a code kind on this firmware."""
        try:
            row = self.codes[failure]
        except KeyError:
            raise KeyError(f"failure reason {failure!r}; known: {', '.join(self.codes)}") from None
        return row.of(kind)

    def expected(self, reason: Reason, kind: str) -> frozenset[int]:
        """Every code this firmware gives for a reason family in a code kind."""
        found = frozenset(
            row.of(kind) for f, row in self.codes.items() if FAILURE_REASONS[f] is reason
        )
        if kind == "ci" and any(FAILURE_REASONS[f] is reason for f in self.ci_unwritten):
            found |= {CI_NO_STATUS}
        return found

    def reasons(self, kind: str, value: int) -> frozenset[Reason]:
        """What a code can mean on this firmware: one reason, several (an ambiguous code),
        or Digi's generic meaning when the family's table does not give the code."""
        if value == 0x00:
            return frozenset({Reason.OK})
        if kind == "ci" and value == CI_NO_STATUS:
            # "no known status", or a failure this firmware leaves unwritten (A-CI-TLS-FF)
            return frozenset({Reason.NO_STATUS}) | {
                FAILURE_REASONS[f] for f in self.ci_unwritten
            }
        return self._by_code.get((kind, value)) or frozenset({generic_reason(kind, value)})

    def ambiguous(self, kind: str, value: int) -> bool:
        return len(self.reasons(kind, value)) > 1

    def has(self, feature: str) -> bool:
        return feature in self.features


def _codes(rows: dict[str, tuple[int, int, int, str]]) -> Mapping[str, Codes]:
    out = {}
    for failure, (ci, tx, sock, source) in rows.items():
        out[failure] = Codes(ci, tx, sock, source, assumption=source.startswith("assumption"))
    return MappingProxyType(out)


# Shared by both families: the codes Digi's tables name (D-CI, D-89, D-SF).
_COMMON = {
    "not_registered": (0x22, 0x22, 0x06, "assumption A-CODES-0xCF: CI 0x22, TX 0x22 "
                       "(D-CI, D-89); 0xCF has no such code, 0x06 host unreachable chosen"),
    "dns_failed": (0x25, 0x84, 0x01, "D-CI 0x25 unknown server, D-89 0x84, D-SF 0x01"),
    "no_route": (0x24, 0x82, 0x06, "D-CI 0x24 no server - timed out, D-89 0x82, D-SF 0x06"),
    "refused": (0x26, 0x80, 0x02, "D-CI 0x26, D-89 0x80, D-SF 0x02 connection refused"),
    "timeout": (0x24, 0x82, 0x04, "D-CI 0x24, D-89 0x82, D-SF 0x04 timed out"),
    "closed_by_peer": (0x27, 0x83, 0x03, "assumption A-CLOSE-CI: D-CI 0x27 connection lost "
                       "(L-TG treats 0x21/0x27 as closed); D-89 0x83; D-SF 0x03"),
    "closed_by_host": (0x21, 0x83, 0x03, "D-CI 0x21 user closed, D-89 0x83, D-SF 0x03"),
}  # fmt: skip

CAT1_3100 = Family(
    name="cat1-3100",
    product="XBee3 Cellular LTE Cat 1 AT&T (firmware 310xx)",
    vr_prefix="310",
    hv_msb=0x49,  # L-PY hw.py: XBee3 Cellular Cat 1 LTE AT&T
    source="§7.1 (3100B/3100C: D-FS, F-HTTPS); A-FW-FAMILY",
    features=MappingProxyType({
        "transparent": "D-TRANSP (Cat 1 AT&T p.163)",
        "ip_frames": "D-20, D-23 (90002253), D-89, D-B0",
        "dns_lookup": "L-TG (ATLA<host> -> dotted IP or ERROR)",
        "fs_commands": "D-FSCMD p.228; D-FS (3100B and later)",
        "sms": "L-C sms.h, L-PY cellular.py (0x1F/0x9F); D-89 0x2C 'check the phone number'",
        # extended_sockets: not on 3100x, L-C "x15 or later". fs_frames: UNVERIFIED on Cat 1.
    }),
    tls=TlsLimits(
        source="D-XS p.167 (no SNI); D-TLS-101 (PKCS#1 the only format common to every "
               "variant: PKCS#8 not claimed, A-TLS-KEY-PKCS1); Cat 1 cipher list, CN limit and "
               "v3 client certificates unknown (90002253 section not read): host defaults, "
               "assumption A-TLS-LIMITS",
    ),
    codes=_codes({
        **_COMMON,
        "tls_config": (0x26, 0x86, 0x08, "assumption A-CODES-CAT1: F-HTTPS $0=flash/cert/"
                       "wgc.crt;; (a missing file) gave CI 0x26; TX 0x86 D-89"),
        "tls_auth": (0x26, 0x8B, 0x08, "assumption A-CODES-CAT1: F-HTTPS leaf as CA gave CI "
                     "0x26 on 3100C; TX 0x8B D-89"),
        "tls_handshake": (0x26, 0x85, 0x08, "assumption A-CODES-CAT1: F-SNI TX 0x85; CI as "
                          "F-HTTPS 0x26"),
        "reset_by_peer": (0x27, 0x81, 0x07, "D-CI 0x27, D-89 0x81, D-SF 0x07 connection lost"),
        "inactivity": (0x21, 0x89, 0x03, "assumption A-CLOSE-CI: CI 0x21 user closed; TX 0x89 "
                       "L-PY; 0xCF 0x03 on this older firmware"),
    }),
)  # fmt: skip

LTEM_114 = Family(
    name="ltem-114",
    product="XBee3 Cellular LTE-M/NB-IoT (firmware 114xx)",
    vr_prefix="114",
    hv_msb=0x4B,  # L-PY hw.py: XBee3 Cellular LTE-M AT&T (u-blox)
    source="§7.1 (1140B…11415: F-FW, F-MS278, F-ANSIC27); A-FW-FAMILY",
    features=MappingProxyType({
        "transparent": "D-TRANSP (LTE-M Global p.97)",
        "ip_frames": "D-20, D-23 (90002258), D-89, D-B0",
        "extended_sockets": "L-C socket_frames.h: x15 or later; F-ANSIC27 (11415)",
        "dns_lookup": "L-TG (ATLA<host>)",
        "fs_commands": "D-FSCMD, D-FS",
        "fs_frames": "D-3B (90002258); on 11415 itself UNVERIFIED",
        "sms": "L-C sms.h, L-PY cellular.py (0x1F/0x9F); D-CI IP=2 SMS table (90002258)",
    }),
    codes=_codes({
        **_COMMON,
        "tls_config": (0x2F, 0x86, 0x08, "assumption A-CODES-LTEM: TX 0x86 D-89; CI for a "
                       "missing file not documented, 0x2F chosen"),
        "tls_auth": (0x2F, 0x8B, 0x08, "D-CI 0x2F, D-89 0x8B; 0xCF has no TLS code (0x08)"),
        "tls_handshake": (0x28, 0x85, 0x08, "assumption A-CODES-LTEM: F-SNI TX 0x85; CI 0x28 "
                          "unknown chosen"),
        "reset_by_peer": (0x27, 0x81, 0x0C, "D-CI 0x27, D-89 0x81, L-PY 0xCF 0x0C"),
        "inactivity": (0x21, 0x89, 0x0D, "assumption A-CLOSE-CI: CI 0x21; TX 0x89 and 0xCF "
                       "0x0D L-PY"),
    }),
    # F-HTTPS reply 1: transparent TLS with the leaf as CA, "my CI status ends up 0xFF"; the
    # reply's module type is ambiguous ("I'm using a LTE-M/NB-IoT XBee3" sits between reply 1
    # and reply 2), so this is an assumption; the codes above stay the alternative.
    tls=TlsLimits(
        ciphers="AES256-SHA:AES256-SHA256",
        max_server_cn=31,
        client_cert_v3=False,
        key_formats=("pkcs1",),
        sends_sni=False,
        source="F-SNI (Digi staff: LTE-M 'does support TLS_RSA_WITH_AES_256_CBC_SHA and "
               "_SHA256', an ECDHE/DHE-only server gives TX 0x85; the exact list beyond these "
               "two is assumption A-TLS-CIPHERS); D-TLS-101 (SARA-R410: server CN > 31 "
               "characters fails; no X.509 v3 client certificates; PKCS#1 the only format "
               "common to every variant: PKCS#8 not claimed here, A-TLS-KEY-PKCS1); "
               "D-XS p.167 (no SNI)",
    ),
    ci_unwritten=MappingProxyType({
        f: "assumption A-CI-TLS-FF: F-HTTPS reply 1 (CI stays 0xFF after a transparent TLS "
           "failure; module type ambiguous); L-TG-HEAD reads 0xFF as 'No known status'"
        for f in ("tls_config", "tls_auth", "tls_handshake")
    }),
)  # fmt: skip

FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in (CAT1_3100, LTEM_114)})


def get(name: str) -> Family:
    """A family by name, or a KeyError naming the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown firmware family {name!r}; known: {', '.join(FAMILIES)}") from None


def version_text(value: int | str | None) -> str:
    """VR / HV as the hex digits the module shows (0x3100C and "3100C" -> "3100C")."""
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:X}"
    return str(value).strip().upper().removeprefix("0X").lstrip("0") or "0"


def identify(vr: int | str | None, hv: int | str | None = None) -> Family | None:
    """The family of a module from the VR (and HV) it reported, or None when unknown.

    VR is five hex digits whose leading ones name the variant (§7.1, A-FW-FAMILY). An HV
    whose high byte contradicts the family's makes the module unknown, not a guess."""
    text = version_text(vr)
    if len(text) != 5:
        return None
    for family in FAMILIES.values():
        if text.startswith(family.vr_prefix):
            hv_text = version_text(hv)
            if hv_text and family.hv_msb is not None and len(hv_text) >= 3:
                try:
                    if int(hv_text, 16) >> 8 != family.hv_msb:
                        return None
                except ValueError:
                    return None
            return family
    return None
