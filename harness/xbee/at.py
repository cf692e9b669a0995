"""AT commands of the XBee3 Cellular: the catalogue and the command-mode line syntax.

Pure: no I/O. Both the simulator (answering) and the device layer (asking) use it, so a
value has one text form (command mode: hex digits, plain strings, dotted addresses) and one
binary form (API 0x08/0x09/0x88: big-endian numbers, ASCII strings, 4-byte addresses), and
one place decides both (reference §1.1, §3.1, §3.2).

Every row cites its source tag; a row whose default, range or width is our choice names the
assumption id it is listed under in docs/assumptions.md.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.xbee.tls import TL_DEFAULT, TL_VERSIONS

Value = int | str


class AtError(ValueError):
    """A command or value that the catalogue or the line syntax rejects; says what and where."""


class Kind(enum.StrEnum):
    HEX = "hex"  # number: text = hex digits (0x optional on input), API = big-endian bytes
    STRING = "string"  # ASCII text both ways
    IP = "ip"  # IPv4 address: text = dotted quad, API = 4 bytes (D-OD, L-PY MY)
    TLS = "tls"  # "$n" profile "ca;cert;key": a string with at most two ';' (D-TLS p.100)
    COMMAND = "command"  # executes (AC, WR, FR, …); an optional parameter is passed on raw


@dataclass(frozen=True, slots=True)
class AtSpec:
    """One AT command as the module knows it."""

    name: str
    kind: Kind
    meaning: str
    source: str
    default: Value | None = None
    readonly: bool = False
    ranges: tuple[tuple[int, int], ...] = ()  # HEX: allowed inclusive intervals; () = any
    max_len: int | None = None  # STRING / TLS
    width: int | None = None  # HEX in API: fixed byte count; None = minimal bytes
    needs_apply: bool = True  # a write takes effect on AC / CN / an 0x08 frame (D-CMD, D-09)
    secret: bool = False  # never logged in clear (IMEI, ICCID, IMSI, passwords)
    write_only: bool = False  # a query answers empty (L-TG: CW not returned)
    assumption: str | None = None  # docs/assumptions.md id for what we chose here
    # Seconds a real module may take to answer (None: the device layer's default). The
    # figures are what client libraries wait on real modules (L-TG-HEAD, A-AT-REPLY-TIME).
    reply_timeout: float | None = None

    def allows(self, value: int) -> bool:
        return not self.ranges or any(lo <= value <= hi for lo, hi in self.ranges)


def _hex(name: str, meaning: str, source: str, default: int | None = None, *,
         ranges: tuple[tuple[int, int], ...] = (), **kw: object) -> AtSpec:
    return AtSpec(name, Kind.HEX, meaning, source, default, ranges=ranges, **kw)  # type: ignore[arg-type]


def _set(*values: int) -> tuple[tuple[int, int], ...]:
    return tuple((v, v) for v in values)


# BD values and the UART rates they select; a value above 0xA is the rate itself (D-BD).
BAUD_RATES: dict[int, int] = {
    0: 1200, 1: 2400, 2: 4800, 3: 9600, 4: 19200, 5: 38400, 6: 57600, 7: 115200,
    8: 230400, 9: 460800, 0xA: 921600,
}  # fmt: skip
BITS_PER_CHAR = 10  # 8N1: start + 8 data + stop (D-RO counts "character times")


def baud_rate(bd: int) -> int:
    """The UART rate a BD value selects (D-BD: standard codes 0-0xA, else the rate itself)."""
    return BAUD_RATES.get(bd, bd)


def bd_value(rate: int) -> int:
    """The BD value that selects `rate`: its standard code, else the rate itself (D-BD)."""
    return next((code for code, r in BAUD_RATES.items() if r == rate), rate)


_U8 = ((0, 0xFF),)
_U16 = ((0, 0xFFFF),)

_ROWS: tuple[AtSpec, ...] = (
    # ----- operating mode and serial interface
    _hex("AP", "API enable", "D-AP", 0, ranges=_set(0, 1, 2, 4, 5)),
    _hex("BD", "UART baud rate", "D-BD", 3, ranges=((0, 0xA), (0x4B0, 0xEC400))),
    _hex("RO", "packetization timeout, character times", "D-RO", 3, ranges=_U8),
    _hex("TD", "text delimiter", "L-MS, L-TG", 0, ranges=_U8, assumption="A-AT-DEFAULTS"),
    # ----- command mode (D-ENTER, D-GT, D-CC)
    _hex("GT", "guard time, ms", "D-GT", 0x3E8, ranges=((2, 0x6D3),)),
    _hex("CC", "command sequence character", "D-CC", 0x2B, ranges=_U8),
    _hex("CT", "command mode timeout, x100 ms", "D-ENTER, L-TG", 0x64, ranges=((2, 0x1770),),
         assumption="A-AT-DEFAULTS"),
    AtSpec("CN", Kind.COMMAND, "exit command mode, apply changes", "D-ENTER, D-CMD"),
    AtSpec("AC", Kind.COMMAND, "apply changes", "D-CMD, D-09"),
    AtSpec("WR", Kind.COMMAND, "write parameters to non-volatile memory", "D-SPECIAL",
           reply_timeout=5.0),
    AtSpec("RE", Kind.COMMAND, "restore defaults (WR persists them)", "D-CMD",
           assumption="A-AT-RE", reply_timeout=5.0),
    AtSpec("FR", Kind.COMMAND, "software reset", "L-TG", assumption="A-FR-DELAY"),
    AtSpec("SD", Kind.COMMAND, "shut down the cellular component", "D-SPECIAL",
           reply_timeout=130.0),
    # ----- IP data path (D-TRANSP, D-CI, D-20)
    _hex("IP", "IP protocol: 0 UDP, 1 TCP, 2 SMS, 4 TLS", "D-CI, D-20, L-PY", 1,
         ranges=_set(0, 1, 2, 4), assumption="A-AT-DEFAULTS"),
    AtSpec("DL", Kind.STRING, "destination address (dotted quad or FQDN)", "F-HTTPS, D-TRANSP",
           "0.0.0.0", max_len=128, assumption="A-AT-DEFAULTS"),
    _hex("DE", "destination port", "F-HTTPS, L-TG", 0, ranges=_U16, assumption="A-AT-DEFAULTS"),
    _hex("C0", "source (listening) port", "D-SOCKLIM, D-APIBEH", 0x2616, ranges=_U16,
         width=2, assumption="A-AT-DEFAULTS"),
    _hex("TM", "client connection timeout, x100 ms", "D-TRANSP, L-MS", 0xBB8, ranges=_U16,
         assumption="A-AT-DEFAULTS", reply_timeout=5.0),  # L-TG-HEAD: a TM write "can be slow"
    _hex("TS", "server connection timeout, x100 ms", "D-SOCKLIM, D-TRANSP", 0xBB8, ranges=_U16,
         assumption="A-AT-DEFAULTS"),
    AtSpec("OD", Kind.IP, "operating destination", "D-OD", "0.0.0.0", readonly=True),
    _hex("CI", "protocol/connection indication", "D-CI", 0xFF, readonly=True, width=1,
         assumption="A-AT-WIDTH"),
    AtSpec("LA", Kind.COMMAND, "look up the IP address of a name", "L-TG",
           reply_timeout=45.0),
    AtSpec("SI", Kind.COMMAND, "socket information", "D-SI"),
    AtSpec("N1", Kind.IP, "DNS server address", "L-TG", "0.0.0.0", readonly=True,
           assumption="A-AT-DEFAULTS", reply_timeout=30.0),  # L-TG-HEAD: "can be very slow"
    # ----- TLS (D-TLS p.100, F-HTTPS, F-AZ)
    # the values and the default are xbee.tls's TL table (A-TL-VALUES)
    _hex("TL", "SSL/TLS protocol version", "F-HTTPS, F-AZ", TL_DEFAULT,
         ranges=((min(TL_VERSIONS), max(TL_VERSIONS)),), assumption="A-AT-TL"),
    AtSpec("$0", Kind.TLS, "TLS profile 0 (transparent mode, 0x20)", "D-TLS", ";;", max_len=255),
    AtSpec("$1", Kind.TLS, "TLS profile 1", "D-TLS", ";;", max_len=255),
    AtSpec("$2", Kind.TLS, "TLS profile 2", "D-TLS", ";;", max_len=255),
    AtSpec("$D", Kind.STRING, "Remote Manager CA path", "D-KB-CERT",
           "/flash/cert/digi-remote-mgr.pem", max_len=255),
    # ----- cellular network
    AtSpec("AN", Kind.STRING, "access point name", "L-TG", "", max_len=100,
           assumption="A-AT-DEFAULTS"),
    AtSpec("CU", Kind.STRING, "APN user name", "L-TG", "", max_len=100, write_only=True,
           secret=True, assumption="A-AT-DEFAULTS"),
    AtSpec("CW", Kind.STRING, "APN password", "L-TG", "", max_len=100, write_only=True,
           secret=True, assumption="A-AT-DEFAULTS"),
    _hex("AM", "airplane mode", "L-TG, L-PY", 0, ranges=_set(0, 1)),
    _hex("AI", "association indication", "L-PY, L-J, L-TG", 0xFF, readonly=True, width=1,
         assumption="A-AT-WIDTH", reply_timeout=10.0),  # L-TG-HEAD readResponseInt(10000)
    _hex("DB", "signal strength, -dBm", "L-TG", None, readonly=True, width=1,
         assumption="A-AT-WIDTH"),
    AtSpec("MY", Kind.IP, "module IP address", "L-TG, L-PY", "0.0.0.0", readonly=True,
           reply_timeout=30.0),  # L-TG-HEAD: "this response can be very slow"
    AtSpec("MN", Kind.STRING, "network operator", "L-TG", "", readonly=True),
    AtSpec("P#", Kind.STRING, "SMS destination number", "D-CI", "", max_len=20),
    # ----- Remote Manager and device options
    _hex("DO", "device options", "D-DO", 1, ranges=_U8),
    _hex("MO", "Remote Manager options", "D-MO", 6, ranges=_U8),
    # ----- identity (values come from the personality)
    AtSpec("NI", Kind.STRING, "node identifier", "L-PY devices.py (read by open())", " ",
           max_len=20, assumption="A-AT-NI"),
    _hex("VR", "firmware version", "§7.1", readonly=True, assumption="A-AT-WIDTH"),
    _hex("HV", "hardware version", "§7.2, D-BOOT", readonly=True, width=2),
    _hex("HS", "hardware series", "L-TG", readonly=True, width=2, assumption="A-AT-WIDTH"),
    _hex("SH", "serial number high", "L-TG", readonly=True, width=4, assumption="A-AT-WIDTH"),
    _hex("SL", "serial number low", "L-TG", readonly=True, width=4, assumption="A-AT-WIDTH"),
    AtSpec("IM", Kind.STRING, "IMEI", "L-PY, L-TG", readonly=True, secret=True),
    AtSpec("S#", Kind.STRING, "ICCID", "L-TG", readonly=True, secret=True),
    AtSpec("II", Kind.STRING, "IMSI", "L-TG", readonly=True, secret=True),
    AtSpec("MV", Kind.STRING, "cellular component firmware version", "§3.2 MV", readonly=True),
    _hex("%V", "supply voltage, mV", "L-MS", readonly=True, width=2, assumption="A-AT-WIDTH"),
    # ----- sleep, pins, SIM PIN, temperature: what TinyGSM and ModularSensors set up and check
    # for OK (L-TG-HEAD setupPinSleep/initImpl/getTemperatureImpl; L-MS extraModemSetup;
    # field-evidence §2.6). Defaults and ranges are ours (A-AT-CLIENT-ROWS).
    _hex("SM", "sleep mode: 0 none, 1 pin sleep, …", "L-TG-HEAD, L-MS", 0, ranges=((0, 8),),
         assumption="A-AT-CLIENT-ROWS"),
    _hex("SO", "sleep options", "L-TG-HEAD, L-MS", 0, ranges=_U16,
         assumption="A-AT-CLIENT-ROWS"),
    *(_hex(f"D{n}", f"DIO{n} configuration", "L-MS", d, ranges=((0, 5),),
           assumption="A-AT-CLIENT-ROWS") for n, d in ((5, 1), (6, 0), (7, 1), (8, 1), (9, 1))),
    _hex("P0", "DIO10 / RSSI PWM configuration", "L-MS", 1, ranges=((0, 5),),
         assumption="A-AT-CLIENT-ROWS"),
    _hex("P1", "DIO11 configuration", "L-MS", 0, ranges=((0, 5),),
         assumption="A-AT-CLIENT-ROWS"),
    AtSpec("PN", Kind.STRING, "SIM PIN", "L-TG-HEAD initImpl", "", max_len=8, write_only=True,
           secret=True, assumption="A-AT-CLIENT-ROWS"),
    _hex("TP", "module temperature, degrees C (signed byte)", "L-TG-HEAD getTemperatureImpl",
         0x19, readonly=True, width=1, assumption="A-AT-CLIENT-ROWS"),
    # ----- file system (a feature answers it)
    AtSpec("FS", Kind.COMMAND, "file system command", "D-FSCMD",
           reply_timeout=15.0),
)

CATALOGUE: dict[str, AtSpec] = {row.name: row for row in _ROWS}


def reply_timeout(name: str, default: float) -> float:
    """How long to wait for the module's answer to `name`: its row's figure (a slow command
    on a real module), else `default`; never shorter than `default`."""
    row = CATALOGUE.get(name.upper())
    slow = row.reply_timeout if row is not None else None
    return max(default, slow) if slow is not None else default


def spec(name: str) -> AtSpec:
    """The catalogue row for `name` (case-insensitive); AtError if the module lacks it."""
    row = CATALOGUE.get(name.upper())
    if row is None:
        raise AtError(f"unknown AT command {name!r}")
    return row


# ----- values -------------------------------------------------------------------------------

_HEX_RE = re.compile(r"(?:0[xX])?([0-9A-Fa-f]+)")


def parse_hex(text: str, *, what: str = "value") -> int:
    """A command-mode hex number, with or without `0x` (D-CMD): `"1BB"`, `"0x1bb"`."""
    m = _HEX_RE.fullmatch(text.strip())
    if m is None:
        raise AtError(f"{what}: {text!r} is not a hex number")
    return int(m.group(1), 16)


def format_hex(value: int) -> str:
    """Hex digits as the module prints them: upper case, no prefix, no leading zeros (D-CMD)."""
    if value < 0:
        raise AtError(f"negative value {value}")
    return f"{value:X}"


def _check(row: AtSpec, value: Value) -> Value:
    where = f"AT{row.name}"
    if row.kind is Kind.HEX:
        if not isinstance(value, int) or isinstance(value, bool):
            raise AtError(f"{where}: expected a number, got {value!r}")
        if value < 0 or not row.allows(value):
            allowed = ", ".join(f"0x{lo:X}" if lo == hi else f"0x{lo:X}-0x{hi:X}"
                                for lo, hi in row.ranges)
            raise AtError(f"{where}: 0x{value:X} out of range ({allowed})")
        return value
    if not isinstance(value, str):
        raise AtError(f"{where}: expected text, got {value!r}")
    if not value.isascii():
        raise AtError(f"{where}: {redact(row.name, value)!r} is not ASCII")
    if row.kind is Kind.IP:
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise AtError(f"{where}: {value!r} is not a dotted IPv4 address") from None
    if row.max_len is not None and len(value) > row.max_len:
        raise AtError(f"{where}: {len(value)} characters, at most {row.max_len}")
    if row.kind is Kind.TLS and value.count(";") > 2:
        raise AtError(f"{where}: {value!r} has more than three ';'-separated fields "
                      "(ca;cert;key, D-TLS)")
    return value


def validate(name: str, value: Value) -> Value:
    """`value` checked against the row (type, range, length); returns it normalised."""
    return _check(spec(name), value)


def to_text(name: str, value: Value) -> str:
    """The command-mode form of a value (what `ATxx\\r` answers, what `ATxx<param>` takes)."""
    row = spec(name)
    if row.kind is Kind.HEX:
        return format_hex(int(value))
    return str(value)


def from_text(name: str, text: str) -> Value:
    """Parse a command-mode parameter or answer; AtError names the command and the text."""
    row = spec(name)
    if row.kind is Kind.COMMAND:
        return text
    if row.kind is Kind.HEX:
        return _check(row, parse_hex(text, what=f"AT{row.name}"))
    return _check(row, text)


def to_binary(name: str, value: Value) -> bytes:
    """The API form: numbers big-endian (fixed width where the module uses one, else minimal
    bytes), strings ASCII, addresses 4 bytes (reference §1.1, D-OD, L-PY)."""
    row = spec(name)
    if row.kind is Kind.HEX:
        number = int(value)
        width = row.width or max(1, (number.bit_length() + 7) // 8)
        try:
            return number.to_bytes(width, "big")
        except OverflowError:
            raise AtError(f"AT{row.name}: 0x{number:X} does not fit {width} bytes") from None
    if row.kind is Kind.IP:
        return ipaddress.IPv4Address(str(value)).packed
    return str(value).encode("ascii")


def from_binary(name: str, data: bytes) -> Value:
    """Parse an API parameter or 0x88 value. Numbers may come zero-padded (D-EX-WIFI)."""
    row = spec(name)
    where = f"AT{row.name}"
    if row.kind is Kind.HEX:
        if not data or len(data) > 8:
            raise AtError(f"{where}: {len(data)} value bytes ({data.hex(' ')}), expected 1-8")
        return _check(row, int.from_bytes(data, "big"))
    if row.kind is Kind.IP:
        if len(data) == 4:
            return str(ipaddress.IPv4Address(data))
        return _check(row, _ascii(where, data))
    if row.kind is Kind.COMMAND:
        return _ascii(where, data)
    return _check(row, _ascii(where, data))


def _ascii(where: str, data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise AtError(f"{where}: value bytes {data.hex(' ')} are not ASCII") from None


def encode_value(name: str, value: Value, *, api: bool) -> bytes:
    """A value as it travels: binary in API frames, ASCII text in command mode."""
    if api:
        return to_binary(name, _check(spec(name), value))
    return to_text(name, value).encode("ascii")


def decode_value(name: str, data: bytes, *, api: bool) -> Value:
    """Inverse of `encode_value`."""
    if api:
        return from_binary(name, data)
    return from_text(name, _ascii(f"AT{name.upper()}", data))


def redact(name: str, value: object) -> str:
    """A value fit for a log line: secrets (IMEI, ICCID, passwords) masked but the last 2."""
    row = CATALOGUE.get(name.upper())
    text = str(value)
    if row is not None and row.secret and text:
        return "*" * max(0, len(text) - 2) + text[-2:]
    return text


# ----- command-mode line syntax (D-CMD) -----------------------------------------------------

# Commands whose parameter is the rest of the line, commas and all (ATFS PUT a,b).
UNCHAINED = frozenset({"FS"})


@dataclass(frozen=True, slots=True)
class AtCommand:
    """One command of a command-mode line: `param` None ⇒ a query (or a bare command)."""

    name: str
    param: str | None = None

    @property
    def is_query(self) -> bool:
        return self.param is None


def parse_line(line: str | bytes) -> list[AtCommand]:
    """Split `ATxx[param][,xx[param]…]` (CR optional) into commands. `AT` alone → [].

    Command names are case-insensitive (digi-xbee's recovery sends `atAP1`); spaces between
    a name and its parameter are dropped (ASSUMPTION A-AT-SPACE, reference §10 item 10);
    an empty parameter is a query.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("ascii")
        except UnicodeDecodeError:
            raise AtError(f"line {line!r} is not ASCII") from None
    text = line.rstrip("\r\n")
    if not text[:2].upper() == "AT":
        raise AtError(f"line {text!r} does not start with AT")
    rest = text[2:]
    out: list[AtCommand] = []
    while rest:
        name = rest[:2].upper()
        if len(name) < 2:
            raise AtError(f"line {text!r}: command name {name!r} is shorter than 2 characters")
        body = rest[2:]
        if name in UNCHAINED:
            param, rest = body, ""
        else:
            param, _, rest = body.partition(",")
            if _ and not rest:
                raise AtError(f"line {text!r}: nothing after the last ','")
        param = param.lstrip(" ")
        out.append(AtCommand(name, param or None))
    return out


def _param_text(name: str, value: Value | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return format_hex(value)
    return str(value)


def format_command(name: str, value: Value | None = None) -> bytes:
    """`ATxx[param]\\r`: ints become hex digits, strings go as they are, None queries."""
    return format_chain([(name, value)])


def format_chain(commands: Iterable[tuple[str, Value | None]]) -> bytes:
    """`ATaa[p],bb[p],…\\r` for several commands on one line (D-CMD: `ATNIMy XBee,AC`)."""
    parts = []
    for name, value in commands:
        if len(name) != 2:
            raise AtError(f"command name {name!r} must be 2 characters")
        text = _param_text(name, value)
        if "\r" in text or "," in text:
            raise AtError(f"AT{name}: parameter {text!r} contains CR or ','")
        parts.append(name.upper() + text)
    if not parts:
        raise AtError("no commands to format")
    return ("AT" + ",".join(parts) + "\r").encode("ascii")
