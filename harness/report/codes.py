"""How the report words a module's codes and what it hides: `CI = 0x26 Connection refused`
(via `harness.xbee.codes`), the code families failures are grouped by, and the masking of
secrets (APN credentials, private keys, IMEI/ICCID) before anything is written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.xbee import codes as code_tables

MASK = "****"

# kind (as tests and device.http name them) -> (how the report spells it, code table, short)
CODE_KINDS: dict[str, tuple[str, str, str]] = {
    "ci": ("CI", "CI", "CI"),  # D-CI (IP=1/4 table)
    "tx_status": ("TX status", "TX", "TX"),  # D-89
    "socket_status": ("socket status", "SOCKET", "socket"),  # D-SF 0xCF
    "socket_state": ("socket status", "SOCKET", "socket"),  # D-SF 0xCF
    "socket_create": ("socket create status", "SOCKET-CREATE", "create"),  # D-SF p.267
    "socket_option": ("socket option status", "SOCKET-OPTION", "option"),  # D-SF p.269
    "socket_connect": ("socket connect status", "SOCKET-CONNECT", "connect"),  # D-SF p.271
    "socket_close": ("socket close status", "SOCKET-CLOSE", "close"),  # D-XS p.174
    "ai": ("AI", "AI", "AI"),  # reference §3.3
    "at_status": ("AT status", "AT", "AT"),  # D-88
}
# The codes that become Allure parameters (hex strings, "0x26"), so runs can be filtered.
PARAMETER_KINDS = ("ci", "tx_status", "socket_status")


def hex_code(value: int) -> str:
    return f"0x{value:02X}"


def code_line(kind: str, value: int) -> str:
    """`CI = 0x26 Connection refused`: the text steps, failures and categories all use."""
    label, table, _ = CODE_KINDS.get(kind, (kind, "", kind))
    if not table:
        return f"{label} = {hex_code(value)}"
    return f"{label} = {code_tables.describe(table, value)}"


def short_code(kind: str, value: int) -> str:
    """`CI 0x26`: what fits in a matrix cell."""
    return f"{CODE_KINDS.get(kind, (kind, '', kind))[2]} {hex_code(value)}"


# ----- secrets -------------------------------------------------------------------------------

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
SECRET_PROPERTY = re.compile(r"password|passwd|secret|token|imei|iccid|imsi|key$", re.I)
PRIVATE_KEY_PEM = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask each secret (as text and as hex, the two ways a capture may carry it) and PEM keys."""
    for secret in secrets:
        if len(secret) < 3:  # masking "1" would mangle every transcript
            continue
        raw = secret.encode()
        for form in (secret, raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper()):
            text = text.replace(form, MASK)
    return PRIVATE_KEY_PEM.sub(lambda m: f"-----{m.group(1)}PRIVATE KEY {MASK}-----", text)


@dataclass(frozen=True)
class CodeFamily:
    """Failures that share a cause, by the codes that show it (source tags beside each)."""

    name: str
    codes: Mapping[str, tuple[int, ...]]
    words: tuple[str, ...] = ()  # failure texts that mean the same without a code


CODE_FAMILIES: tuple[CodeFamily, ...] = (
    CodeFamily(
        "TLS authentication",
        # D-CI 0x2F; D-89 0x8B. (Cat 1 3100C shows 0x26 instead: F-HTTPS - see refused.)
        {"ci": (0x2F,), "tx_status": (0x8B,)},
        ("certificate verify failed", "TLS authentication"),
    ),
    CodeFamily(
        "TLS configuration",
        {"tx_status": (0x86,)},  # D-89 "Invalid TLS configuration (missing file, and so forth)"
        ("invalid TLS configuration",),
    ),
    CodeFamily(
        "Connection refused",
        # D-CI 0x26; D-89 0x80; D-SF 0xCF 0x02
        {"ci": (0x26,), "tx_status": (0x80,), "socket_status": (0x02,)},
        ("Connection refused",),
    ),
    CodeFamily(
        "No response",
        # D-CI 0x24 no server (timed out); D-89 0x82 no server; D-SF 0xCF 0x04 timed out
        {"ci": (0x24,), "tx_status": (0x82,), "socket_status": (0x04,)},
        ("no response", "timed out", "Timeout"),
    ),
    CodeFamily(
        "Not registered",
        # D-CI 0x10 / 0x22 / 0x23; D-89 0x22; L-C socket status 0x22; AI not 0x00 (§3.3)
        {"ci": (0x10, 0x22, 0x23), "tx_status": (0x22,), "socket_status": (0x22,)},
        ("not registered", "registration"),
    ),
)


def family_of(codes: Mapping[str, int | None]) -> str | None:
    """The first family a set of codes belongs to, or None."""
    for family in CODE_FAMILIES:
        for kind, values in family.codes.items():
            if codes.get(kind) in values:
                return family.name
    return None
