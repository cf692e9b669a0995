"""One small frozen dataclass per API frame type of the XBee3 Cellular (reference §2).

Frame data means Digi's term: type byte + fields, no delimiter, length or checksum (the
envelope is `frames`). Every class declares its fixed fields once (`_LAYOUT`, compiled to a
`struct.Struct`) and an optional trailing variable field (`_REST`), so parsing, building and
`to_dict` share one description per frame and cannot drift apart. `parse` never raises: a type
we do not know becomes `GenericFrame`, a known type too short or too long for its fields
becomes `BadFrame` with an `error`. Field names are the ones the simulator, the device layer
and `xbee-hil decode` use (docs/design.md).

Over 600 lines as one coherent thing: the frame catalogue is one table of 29 frame
classes on one `_frame` registry and one `parse`; each class is a few lines of layout read
against reference §2, and split files would only scatter the table a reader checks whole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self, TypeVar, cast, dataclass_transform

from harness.xbee import codes, frames

__all__ = [
    "REGISTRY",
    "RXSMS",
    "TXSMS",
    "ATCommand",
    "ATCommandQueue",
    "ATCommandResponse",
    "BadFrame",
    "FileSystemRequest",
    "FileSystemResponse",
    "Frame",
    "FrameDecodeError",
    "FrameErrorFrame",
    "GenericFrame",
    "ModemStatus",
    "RXIPv4",
    "SocketBindListen",
    "SocketClose",
    "SocketCloseResponse",
    "SocketConnect",
    "SocketConnectResponse",
    "SocketCreate",
    "SocketCreateResponse",
    "SocketListenResponse",
    "SocketNewIPv4Client",
    "SocketOption",
    "SocketOptionResponse",
    "SocketReceive",
    "SocketReceiveFrom",
    "SocketSend",
    "SocketSendTo",
    "SocketStatus",
    "TXRequestIPv4",
    "TXRequestTLSProfile",
    "TXStatus",
    "encode",
    "parse",
]

# 0x1F / 0x9F phone number field: 20 bytes ASCII, NUL-padded (L-C sms.h is authoritative;
# xbee-python parses 19 bytes but builds 20, reference §2.10).
PHONE_LEN = 20

# 0x42 address type byte (D-SF p.270).
ADDRESS_BINARY_IPV4 = 0
ADDRESS_STRING = 1


class FrameDecodeError(ValueError):
    """Frame data that does not fit the layout of its frame type."""


# ----- field kinds ------------------------------------------------------------------------

_FORMAT = {"u8": "B", "u16": "H", "u32": "I", "ip4": "4s", "cmd": "2s", "phone": f"{PHONE_LEN}s"}


def _ip_from(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def _ip_to(addr: str) -> bytes:
    parts = addr.split(".")
    try:
        octets = bytes(int(p, 10) for p in parts)
    except ValueError:
        octets = b""
    if len(parts) != 4 or len(octets) != 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a dotted IPv4 address: {addr!r}")
    return octets


def _text_from(raw: bytes) -> str:
    # latin-1 maps every byte to one character, so a decode/encode round trip is exact.
    return raw.decode("latin-1")


def _text_to(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as err:
        raise ValueError(f"not a byte string: {text!r}") from err


def _cmd_to(text: str) -> bytes:
    raw = _text_to(text)
    if len(raw) != 2:
        raise ValueError(f"AT command must be 2 characters, got {text!r}")
    return raw


def _phone_from(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("latin-1")


def _phone_to(phone: str) -> bytes:
    raw = _text_to(phone)
    if len(raw) > PHONE_LEN:
        raise ValueError(f"phone number longer than {PHONE_LEN} bytes: {phone!r}")
    return raw.ljust(PHONE_LEN, b"\0")


_DECODE = {"ip4": _ip_from, "cmd": _text_from, "phone": _phone_from}
_ENCODE = {"ip4": _ip_to, "cmd": _cmd_to, "phone": _phone_to}


# ----- the base ---------------------------------------------------------------------------


class Frame:
    """Base of every frame class. Subclasses are built with `_frame` (a frozen dataclass)."""

    __slots__ = ()

    FRAME_TYPE: ClassVar[int]
    NAME: ClassVar[str]
    _LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = ()
    _REST: ClassVar[str | None] = None
    _STATUS_TABLE: ClassVar[str | None] = None
    _STRUCT: ClassVar[struct.Struct]
    _CONVERT: ClassVar[tuple[tuple[int, str], ...]]

    @property
    def type(self) -> int:
        return self.FRAME_TYPE

    @classmethod
    def from_data(cls, data: bytes) -> Self:
        """Build from frame data (type byte first). Raises FrameDecodeError if it does not fit."""
        data = bytes(data)
        if not data or data[0] != cls.FRAME_TYPE:
            got = f"0x{data[0]:02X}" if data else "nothing"
            raise FrameDecodeError(
                f"{cls.NAME} frame data must start with 0x{cls.FRAME_TYPE:02X}, got {got}"
            )
        st = cls._STRUCT
        fixed = 1 + st.size
        if len(data) < fixed:
            raise FrameDecodeError(
                f"{cls.NAME} (0x{cls.FRAME_TYPE:02X}) needs at least {fixed} bytes of frame "
                f"data, got {len(data)}"
            )
        values = list(st.unpack_from(data, 1))
        for index, kind in cls._CONVERT:
            values[index] = _DECODE[kind](values[index])
        if cls._REST is not None:
            values.append(data[fixed:])
        elif len(data) > fixed:
            raise FrameDecodeError(
                f"{cls.NAME} (0x{cls.FRAME_TYPE:02X}) has {len(data) - fixed} unexpected "
                f"byte(s) after its {fixed}-byte frame data"
            )
        return cls(*values)

    def to_bytes(self) -> bytes:
        """Frame data: type byte + fields. Raises ValueError naming a field out of range."""
        values: list[Any] = []
        for name, kind in self._LAYOUT:
            value = getattr(self, name)
            enc = _ENCODE.get(kind)
            if enc is not None:
                try:
                    value = enc(value)
                except ValueError as err:
                    raise ValueError(f"{type(self).__name__}.{name}: {err}") from None
            values.append(value)
        try:
            head = self._STRUCT.pack(*values)
        except struct.error as err:
            raise ValueError(f"{type(self).__name__}: {err} ({self._describe_ranges()})") from None
        rest = b"" if self._REST is None else bytes(getattr(self, self._REST))
        return bytes((self.FRAME_TYPE,)) + head + rest

    def _describe_ranges(self) -> str:
        return ", ".join(f"{n}={getattr(self, n)!r}" for n, k in self._LAYOUT if k in _FORMAT)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: `type`, `name`, each field (bytes as hex), `status_name`."""
        out: dict[str, Any] = {"type": self.FRAME_TYPE, "name": self.NAME}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.hex() if isinstance(value, bytes | bytearray) else value
            if f.name == "status" and self._STATUS_TABLE is not None:
                out["status_name"] = codes.lookup(self._STATUS_TABLE, value).name
        return out


REGISTRY: dict[int, type[Frame]] = {}


_F = TypeVar("_F", bound=type[Frame])


# `dataclass_transform` tells a type checker that the decorated class is a (frozen) dataclass,
# so `ATCommand(1, "AP")` is checked against its fields (and returns an `ATCommand`).
@dataclass_transform(frozen_default=True)
def _frame(cls: _F) -> _F:
    """Make `cls` a frozen dataclass, check it against its layout, compile it, register it."""
    cls = cast("_F", dataclass(frozen=True, slots=True)(cls))  # slots: a new class
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    declared = tuple(n for n, _ in cls._LAYOUT) + ((cls._REST,) if cls._REST else ())
    if names != declared:
        raise TypeError(f"{cls.__name__}: fields {names} do not match layout {declared}")
    cls._STRUCT = struct.Struct(">" + "".join(_FORMAT[k] for _, k in cls._LAYOUT))
    cls._CONVERT = tuple((i, k) for i, (_, k) in enumerate(cls._LAYOUT) if k in _DECODE)
    if cls.FRAME_TYPE in REGISTRY:
        raise TypeError(f"frame type 0x{cls.FRAME_TYPE:02X} registered twice")
    REGISTRY[cls.FRAME_TYPE] = cls
    return cls


# ----- AT commands (reference §2.2–2.4) -----------------------------------------------------


@_frame
class ATCommand(Frame):
    """0x08: run an AT command now; empty parameter = query. D-08, L-PY ATCommPacket."""

    FRAME_TYPE = 0x08
    NAME = "AT Command"
    _LAYOUT = (("frame_id", "u8"), ("command", "cmd"))
    _REST = "parameter"

    frame_id: int
    command: str
    parameter: bytes = b""


@_frame
class ATCommandQueue(Frame):
    """0x09: queue a value until AC or an 0x08; queries answer at once. D-09."""

    FRAME_TYPE = 0x09
    NAME = "AT Command - Queue Parameter Value"
    _LAYOUT = (("frame_id", "u8"), ("command", "cmd"))
    _REST = "parameter"

    frame_id: int
    command: str
    parameter: bytes = b""


@_frame
class ATCommandResponse(Frame):
    """0x88: status (0 OK … 3 invalid parameter) and the register value, binary. D-88."""

    FRAME_TYPE = 0x88
    NAME = "AT Command Response"
    _LAYOUT = (("frame_id", "u8"), ("command", "cmd"), ("status", "u8"))
    _REST = "value"
    _STATUS_TABLE = "AT"

    frame_id: int
    command: str
    status: int
    value: bytes = b""


@_frame
class ModemStatus(Frame):
    """0x8A: power-up, registration, Remote Manager events. D-8A."""

    FRAME_TYPE = 0x8A
    NAME = "Modem Status"
    _LAYOUT = (("status", "u8"),)
    _STATUS_TABLE = "MODEM"

    status: int


# ----- IP data (reference §2.6–2.9) ---------------------------------------------------------


@_frame
class TXRequestIPv4(Frame):
    """0x20: send to an IPv4 address; protocol 0 UDP, 1 TCP, 4 TLS via $0. D-20."""

    FRAME_TYPE = 0x20
    NAME = "Transmit (TX) Request: IPv4"
    _LAYOUT = (
        ("frame_id", "u8"),
        ("dest_addr", "ip4"),
        ("dest_port", "u16"),
        ("src_port", "u16"),
        ("protocol", "u8"),
        ("options", "u8"),
    )
    _REST = "payload"

    frame_id: int
    dest_addr: str
    dest_port: int
    src_port: int
    protocol: int
    options: int = 0
    payload: bytes = b""


@_frame
class TXRequestTLSProfile(Frame):
    """0x23: as 0x20, with a TLS profile number ($0/$1/$2) instead of a protocol. D-23."""

    FRAME_TYPE = 0x23
    NAME = "TX Request with TLS Profile"
    _LAYOUT = (
        ("frame_id", "u8"),
        ("dest_addr", "ip4"),
        ("dest_port", "u16"),
        ("src_port", "u16"),
        ("tls_profile", "u8"),
        ("options", "u8"),
    )
    _REST = "payload"

    frame_id: int
    dest_addr: str
    dest_port: int
    src_port: int
    tls_profile: int
    options: int = 0
    payload: bytes = b""


@_frame
class TXStatus(Frame):
    """0x89: the outcome of 0x20, 0x23, 0x1F, 0x44, 0x45. D-89, D-XS."""

    FRAME_TYPE = 0x89
    NAME = "Transmit (TX) Status"
    _LAYOUT = (("frame_id", "u8"), ("status", "u8"))
    _STATUS_TABLE = "TX"

    frame_id: int
    status: int


@_frame
class RXIPv4(Frame):
    """0xB0: data received; dest_port is local, src_port remote; status reserved. D-B0."""

    FRAME_TYPE = 0xB0
    NAME = "Receive (RX) Packet: IPv4"
    _LAYOUT = (
        ("src_addr", "ip4"),
        ("dest_port", "u16"),
        ("src_port", "u16"),
        ("protocol", "u8"),
        ("status", "u8"),
    )
    _REST = "payload"

    src_addr: str
    dest_port: int
    src_port: int
    protocol: int
    status: int = 0
    payload: bytes = b""


# ----- SMS (reference §2.10) ------------------------------------------------------------------


@_frame
class TXSMS(Frame):
    """0x1F: send an SMS; phone is 20 bytes NUL-padded on the wire. L-C sms.h."""

    FRAME_TYPE = 0x1F
    NAME = "Transmit (TX) SMS"
    _LAYOUT = (("frame_id", "u8"), ("options", "u8"), ("phone", "phone"))
    _REST = "payload"

    frame_id: int
    options: int
    phone: str
    payload: bytes = b""


@_frame
class RXSMS(Frame):
    """0x9F: an SMS received. L-C sms.h."""

    FRAME_TYPE = 0x9F
    NAME = "Receive (RX) SMS"
    _LAYOUT = (("phone", "phone"),)
    _REST = "payload"

    phone: str
    payload: bytes = b""


# ----- file system (reference §2.12) -------------------------------------------------------------


@_frame
class FileSystemRequest(Frame):
    """0x3B: an FS command (0x01 open … 0x4F format) and its parameters, raw. D-3B."""

    FRAME_TYPE = 0x3B
    NAME = "File System Request"
    _LAYOUT = (("frame_id", "u8"), ("fs_command", "u8"))
    _REST = "fs_data"

    frame_id: int
    fs_command: int
    fs_data: bytes = b""


@_frame
class FileSystemResponse(Frame):
    """0xBB: FS command echo, status, and data (only when status is 0). D-BB."""

    FRAME_TYPE = 0xBB
    NAME = "File System Response"
    _LAYOUT = (("frame_id", "u8"), ("fs_command", "u8"), ("status", "u8"))
    _REST = "fs_data"
    _STATUS_TABLE = "FS"

    frame_id: int
    fs_command: int
    status: int
    fs_data: bytes = b""


# ----- extended sockets (reference §2.11) ------------------------------------------------------


@_frame
class SocketCreate(Frame):
    """0x40: create a socket; a 0xC0 answers whatever the frame ID. D-C0-3G, L-C."""

    FRAME_TYPE = 0x40
    NAME = "Socket Create"
    _LAYOUT = (("frame_id", "u8"), ("protocol", "u8"))

    frame_id: int
    protocol: int


@_frame
class SocketCreateResponse(Frame):
    """0xC0: the new socket ID (0xFF on error) and a status. D-SF p.267."""

    FRAME_TYPE = 0xC0
    NAME = "Socket Create Response"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("status", "u8"))
    _STATUS_TABLE = "SOCKET-CREATE"

    frame_id: int
    socket_id: int
    status: int


@_frame
class SocketOption(Frame):
    """0x41: set or (empty data) query a socket option; 0x00 = TLS profile. D-SF p.268."""

    FRAME_TYPE = 0x41
    NAME = "Socket Option Request"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("option_id", "u8"))
    _REST = "option_data"

    frame_id: int
    socket_id: int
    option_id: int
    option_data: bytes = b""


@_frame
class SocketOptionResponse(Frame):
    """0xC1: status, and the option's value when the request was a query. D-SF p.269."""

    FRAME_TYPE = 0xC1
    NAME = "Socket Option Response"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("option_id", "u8"), ("status", "u8"))
    _REST = "option_data"
    _STATUS_TABLE = "SOCKET-OPTION"

    frame_id: int
    socket_id: int
    option_id: int
    status: int
    option_data: bytes = b""


@_frame
class SocketConnect(Frame):
    """0x42: connect; address type 0 = 4 binary bytes, 1 = text (dotted quad or host name).

    `dest_addr` is always a str: dotted for type 0, the text as sent for type 1. D-SF p.270.
    """

    FRAME_TYPE = 0x42
    NAME = "Socket Connect"
    _LAYOUT = (
        ("frame_id", "u8"),
        ("socket_id", "u8"),
        ("dest_port", "u16"),
        ("address_type", "u8"),
    )
    _REST = "dest_addr"

    frame_id: int
    socket_id: int
    dest_port: int
    address_type: int
    dest_addr: str

    @classmethod
    def from_data(cls, data: bytes) -> Self:
        data = bytes(data)
        if len(data) < 6 or data[0] != cls.FRAME_TYPE:
            # The usual checks and messages; `super()` does not work in a slots dataclass.
            return Frame.from_data.__func__(cls, data)  # type: ignore[attr-defined,no-any-return]
        fid, sock, port, atype = data[1], data[2], (data[3] << 8) | data[4], data[5]
        raw = data[6:]
        if atype == ADDRESS_BINARY_IPV4:
            if len(raw) != 4:
                raise FrameDecodeError(
                    f"{cls.NAME}: address type 0 (binary IPv4) needs 4 address bytes, "
                    f"got {len(raw)}"
                )
            addr = _ip_from(raw)
        else:
            addr = _text_from(raw)
        return cls(fid, sock, port, atype, addr)

    def to_bytes(self) -> bytes:
        try:
            head = self._STRUCT.pack(
                self.frame_id, self.socket_id, self.dest_port, self.address_type
            )
        except struct.error as err:
            raise ValueError(f"SocketConnect: {err} ({self._describe_ranges()})") from None
        try:
            if self.address_type == ADDRESS_BINARY_IPV4:
                addr = _ip_to(self.dest_addr)
            else:
                addr = _text_to(self.dest_addr)
        except ValueError as err:
            raise ValueError(f"SocketConnect.dest_addr: {err}") from None
        return bytes((self.FRAME_TYPE,)) + head + addr


@_frame
class SocketConnectResponse(Frame):
    """0xC2: the connect was started (or why not); the result comes as 0xCF. D-SF p.271."""

    FRAME_TYPE = 0xC2
    NAME = "Socket Connect Response"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("status", "u8"))
    _STATUS_TABLE = "SOCKET-CONNECT"

    frame_id: int
    socket_id: int
    status: int


@_frame
class SocketClose(Frame):
    """0x43: close a socket; socket ID 0xFF closes them all. D-43."""

    FRAME_TYPE = 0x43
    NAME = "Socket Close"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"))

    frame_id: int
    socket_id: int


@_frame
class SocketCloseResponse(Frame):
    """0xC3: close outcome; codes beyond 0x00 UNVERIFIED, read with L-C's shared list."""

    FRAME_TYPE = 0xC3
    NAME = "Socket Close Response"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("status", "u8"))
    _STATUS_TABLE = "SOCKET-CLOSE"

    frame_id: int
    socket_id: int
    status: int


@_frame
class SocketSend(Frame):
    """0x44: send on a connected socket; acknowledged by 0x89. D-SF p.274."""

    FRAME_TYPE = 0x44
    NAME = "Socket Send"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("options", "u8"))
    _REST = "payload"

    frame_id: int
    socket_id: int
    options: int = 0
    payload: bytes = b""


@_frame
class SocketSendTo(Frame):
    """0x45: send a datagram on a bound UDP socket; acknowledged by 0x89. D-SF p.275."""

    FRAME_TYPE = 0x45
    NAME = "Socket SendTo (Transmit Explicit Data): IPv4"
    _LAYOUT = (
        ("frame_id", "u8"),
        ("socket_id", "u8"),
        ("dest_addr", "ip4"),
        ("dest_port", "u16"),
        ("options", "u8"),
    )
    _REST = "payload"

    frame_id: int
    socket_id: int
    dest_addr: str
    dest_port: int
    options: int = 0
    payload: bytes = b""


@_frame
class SocketBindListen(Frame):
    """0x46: listen (TCP/TLS) or bind (UDP) on a local port. L-C, L-PY."""

    FRAME_TYPE = 0x46
    NAME = "Socket Bind/Listen"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("src_port", "u16"))

    frame_id: int
    socket_id: int
    src_port: int


@_frame
class SocketListenResponse(Frame):
    """0xC6: bind/listen outcome. D-SF p.277."""

    FRAME_TYPE = 0xC6
    NAME = "Socket Listen Response"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("status", "u8"))
    _STATUS_TABLE = "SOCKET-LISTEN"

    frame_id: int
    socket_id: int
    status: int


@_frame
class SocketNewIPv4Client(Frame):
    """0xCC: a listener accepted a client; src_addr/src_port are the remote end. D-SF p.278."""

    FRAME_TYPE = 0xCC
    NAME = "Socket New IPv4 Client"
    _LAYOUT = (
        ("socket_id", "u8"),
        ("client_socket_id", "u8"),
        ("src_addr", "ip4"),
        ("src_port", "u16"),
    )

    socket_id: int
    client_socket_id: int
    src_addr: str
    src_port: int


@_frame
class SocketReceive(Frame):
    """0xCD: data on a connected socket; frame ID and status reserved (0). D-SF p.279."""

    FRAME_TYPE = 0xCD
    NAME = "Socket Receive"
    _LAYOUT = (("frame_id", "u8"), ("socket_id", "u8"), ("status", "u8"))
    _REST = "payload"

    frame_id: int
    socket_id: int
    status: int = 0
    payload: bytes = b""


@_frame
class SocketReceiveFrom(Frame):
    """0xCE: a datagram on an unconnected UDP socket, with its source. D-SF p.280."""

    FRAME_TYPE = 0xCE
    NAME = "Socket Receive From: IPv4"
    _LAYOUT = (
        ("frame_id", "u8"),
        ("socket_id", "u8"),
        ("src_addr", "ip4"),
        ("src_port", "u16"),
        ("status", "u8"),
    )
    _REST = "payload"

    frame_id: int
    socket_id: int
    src_addr: str
    src_port: int
    status: int = 0
    payload: bytes = b""


@_frame
class SocketStatus(Frame):
    """0xCF: 0x00 connected; any other value closes the socket for good. D-SF p.281."""

    FRAME_TYPE = 0xCF
    NAME = "Socket Status"
    _LAYOUT = (("socket_id", "u8"), ("status", "u8"))
    _STATUS_TABLE = "SOCKET"

    socket_id: int
    status: int


@_frame
class FrameErrorFrame(Frame):
    """0xFE: the module's report of a bad frame (L-PY FrameErrorPacket; UNVERIFIED on
    Cellular, reference §1.1)."""

    FRAME_TYPE = 0xFE
    NAME = "Frame Error"
    _LAYOUT = (("status", "u8"),)
    _STATUS_TABLE = "FRAME-ERROR"

    status: int


# ----- frames we cannot read as their type ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenericFrame:
    """A frame of a type this module does not know: kept whole, as type + data."""

    type: int
    data: bytes = b""

    NAME: ClassVar[str] = "Unknown frame type"

    @property
    def FRAME_TYPE(self) -> int:
        return self.type

    def to_bytes(self) -> bytes:
        return bytes((self.type,)) + self.data

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": f"Unknown frame type 0x{self.type:02X}",
            "data": self.data.hex(),
        }


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame of a known type whose data does not fit its layout; `error` says how."""

    type: int | None
    data: bytes
    error: str

    @property
    def FRAME_TYPE(self) -> int | None:
        return self.type

    @property
    def NAME(self) -> str:
        cls = REGISTRY.get(self.type) if self.type is not None else None
        return cls.NAME if cls is not None else "Empty frame"

    def to_bytes(self) -> bytes:
        return (b"" if self.type is None else bytes((self.type,))) + self.data

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.NAME, "data": self.data.hex(), "error": self.error}


AnyFrame = Frame | GenericFrame | BadFrame


def parse(frame_data: bytes) -> AnyFrame:
    """Frame data (type byte + fields) to a frame object. Never raises."""
    data = bytes(frame_data)
    if not data:
        return BadFrame(None, b"", "empty frame data (no frame type byte)")
    cls = REGISTRY.get(data[0])
    if cls is None:
        return GenericFrame(data[0], data[1:])
    try:
        return cls.from_data(data)
    except FrameDecodeError as err:
        return BadFrame(data[0], data[1:], str(err))


def encode(frame: AnyFrame, *, escaped: bool = False) -> bytes:
    """A whole API frame on the wire (delimiter, length, data, checksum) for AP=1 or AP=2."""
    return frames.encode(frame.to_bytes(), escaped=escaped)
