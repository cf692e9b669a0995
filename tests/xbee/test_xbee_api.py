"""harness.xbee.api against digi-xbee's packet classes and the reference's byte vectors."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from digi.xbee.models.atcomm import ATCommandStatus
from digi.xbee.models.filesystem import (
    OpenFileCmdRequest,
    OpenFileCmdResponse,
    ReadFileCmdRequest,
)
from digi.xbee.models.mode import OperatingMode
from digi.xbee.models.options import FileOpenRequestOption
from digi.xbee.models.options import SocketOption as DigiSocketOption
from digi.xbee.models.protocol import IPProtocol
from digi.xbee.models.status import (
    FrameError,
    FSCommandStatus,
    SocketState,
    TransmitStatus,
)
from digi.xbee.models.status import ModemStatus as DigiModemStatus
from digi.xbee.models.status import SocketStatus as DigiSocketStatus
from digi.xbee.packets import cellular, common, devicecloud, filesystem, network, raw, socket
from digi.xbee.packets.factory import build_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.xbee import api, frames

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"

# (our frame, the same frame built with digi-xbee). Values include bytes AP=2 must escape
# (0x7E, 0x7D, 0x11, 0x13) so the escaped comparison means something.
PAIRS = [
    (
        api.ATCommand(0x7E, "DL", b"example.com"),
        lambda: common.ATCommPacket(0x7E, "DL", bytearray(b"example.com")),
    ),
    (api.ATCommand(0x01, "VR"), lambda: common.ATCommPacket(0x01, "VR")),
    (
        api.ATCommandQueue(0x11, "DE", b"\x01\xbb"),
        lambda: common.ATCommQueuePacket(0x11, "DE", bytearray(b"\x01\xbb")),
    ),
    (
        api.ATCommandResponse(0x13, "CI", 0, b"\x26"),
        lambda: common.ATCommResponsePacket(0x13, "CI", ATCommandStatus.OK, bytearray(b"\x26")),
    ),
    (
        api.ATCommandResponse(0x01, "ZZ", 2),
        lambda: common.ATCommResponsePacket(0x01, "ZZ", ATCommandStatus.INVALID_COMMAND),
    ),
    (api.ModemStatus(0x02), lambda: common.ModemStatusPacket(DigiModemStatus.JOINED_NETWORK)),
    (
        api.TXRequestIPv4(0x7D, "93.184.216.34", 443, 0, 4, 2, GET),
        lambda: network.TXIPv4Packet(
            0x7D, IPv4Address("93.184.216.34"), 443, 0, IPProtocol.TCP_SSL, 2, bytearray(GET)
        ),
    ),
    (
        api.TXStatus(0x7E, 0x86),
        lambda: raw.TXStatusPacket(0x7E, TransmitStatus.INVALID_TLS_CONFIGURATION),
    ),
    (
        api.RXIPv4("127.0.0.1", 0xC350, 0x1113, 1, 0, b"HTTP/1.1 200 OK\r\n"),
        lambda: network.RXIPv4Packet(
            IPv4Address("127.0.0.1"),
            0xC350,
            0x1113,
            IPProtocol.TCP,
            bytearray(b"HTTP/1.1 200 OK\r\n"),
        ),
    ),
    (
        api.TXSMS(0x05, 0, "+15555550123", b"hello"),
        lambda: cellular.TXSMSPacket(0x05, "+15555550123", bytearray(b"hello")),
    ),
    (
        api.RXSMS("+15555550123", b"hi \x7e"),
        lambda: cellular.RXSMSPacket("+15555550123", bytearray(b"hi \x7e")),
    ),
    (api.SocketCreate(0x01, 4), lambda: socket.SocketCreatePacket(0x01, IPProtocol.TCP_SSL)),
    (
        api.SocketCreateResponse(0x01, 0x00, 0x32),
        lambda: socket.SocketCreateResponsePacket(0x01, 0x00, DigiSocketStatus.RESOURCE_ERROR),
    ),
    (
        api.SocketOption(0x01, 0x00, 0x00, b"\x01"),
        lambda: socket.SocketOptionRequestPacket(
            0x01, 0x00, DigiSocketOption.TLS_PROFILE, bytearray(b"\x01")
        ),
    ),
    (
        api.SocketOptionResponse(0x02, 0x00, 0x00, 0x00, b"\x01"),
        lambda: socket.SocketOptionResponsePacket(
            0x02, 0x00, DigiSocketOption.TLS_PROFILE, DigiSocketStatus.SUCCESS, bytearray(b"\x01")
        ),
    ),
    (
        api.SocketConnect(0x03, 0x00, 443, 1, "example.com"),
        lambda: socket.SocketConnectPacket(0x03, 0x00, 443, 1, "example.com"),
    ),
    (
        api.SocketConnect(0x03, 0x00, 0x7D7E, 0, "10.0.0.1"),
        lambda: socket.SocketConnectPacket(0x03, 0x00, 0x7D7E, 0, bytearray([10, 0, 0, 1])),
    ),
    (
        api.SocketConnectResponse(0x03, 0x00, 0x00),
        lambda: socket.SocketConnectResponsePacket(0x03, 0x00, DigiSocketStatus.SUCCESS),
    ),
    (api.SocketClose(0x04, 0xFF), lambda: socket.SocketClosePacket(0x04, 0xFF)),
    (
        api.SocketCloseResponse(0x04, 0x00, 0x20),
        lambda: socket.SocketCloseResponsePacket(0x04, 0x00, DigiSocketStatus.BAD_SOCKET),
    ),
    (
        api.SocketSend(0x05, 0x00, 0, GET),
        lambda: socket.SocketSendPacket(0x05, 0x00, bytearray(GET)),
    ),
    (
        api.SocketSendTo(0x06, 0x01, "192.168.17.19", 0x1313, 0, b"\x11\x13"),
        lambda: socket.SocketSendToPacket(
            0x06, 0x01, IPv4Address("192.168.17.19"), 0x1313, bytearray(b"\x11\x13")
        ),
    ),
    (
        api.SocketBindListen(0x07, 0x02, 0x1234),
        lambda: socket.SocketBindListenPacket(0x07, 0x02, 0x1234),
    ),
    (
        api.SocketListenResponse(0x07, 0x02, 0x00),
        lambda: socket.SocketListenResponsePacket(0x07, 0x02, DigiSocketStatus.SUCCESS),
    ),
    (
        api.SocketNewIPv4Client(0x02, 0x03, "127.0.0.1", 40000),
        lambda: socket.SocketNewIPv4ClientPacket(0x02, 0x03, IPv4Address("127.0.0.1"), 40000),
    ),
    (
        api.SocketReceive(0x00, 0x03, 0, b"data\x7d"),
        lambda: socket.SocketReceivePacket(0x00, 0x03, bytearray(b"data\x7d")),
    ),
    (
        api.SocketReceiveFrom(0x00, 0x01, "127.0.0.1", 5353, 0, b"dgram"),
        lambda: socket.SocketReceiveFromPacket(
            0x00, 0x01, IPv4Address("127.0.0.1"), 5353, bytearray(b"dgram")
        ),
    ),
    (
        api.SocketStatus(0x00, 0x02),
        lambda: socket.SocketStatePacket(0x00, SocketState.CONNECTION_REFUSED),
    ),
    (
        # File Read: handle 0x1234, offset 0x7E (current would be 0xFFFFFFFF), 0x0200 bytes.
        api.FileSystemRequest(0x08, 0x03, b"\x12\x34\x00\x00\x00\x7e\x02\x00"),
        lambda: filesystem.FSRequestPacket(0x08, ReadFileCmdRequest(0x1234, 0x7E, 0x200)),
    ),
    (
        api.FileSystemResponse(0x08, 0x01, 0x00, b"\x12\x34\x00\x00\x04\x00"),
        lambda: filesystem.FSResponsePacket(
            0x08, OpenFileCmdResponse(FSCommandStatus.SUCCESS, fid=0x1234, size=1024)
        ),
    ),
    (
        api.FrameErrorFrame(0x04),
        lambda: devicecloud.FrameErrorPacket(FrameError.INVALID_CHECKSUM),
    ),
]

# Frame types digi-xbee 1.5.0 has no class for (digi-xbee-notes §2c).
NO_DIGI_CLASS = {0x23}


def _ids(pairs):
    return [f"{type(ours).__name__}-{i}" for i, (ours, _) in enumerate(pairs)]


def test_every_frame_class_is_paired_with_digi_xbee():
    covered = {type(ours).FRAME_TYPE for ours, _ in PAIRS}
    assert set(api.REGISTRY) - covered == NO_DIGI_CLASS


@pytest.mark.parametrize("escaped", [False, True], ids=["AP1", "AP2"])
@pytest.mark.parametrize(("ours", "digi"), PAIRS, ids=_ids(PAIRS))
def test_ours_parses_as_digi_xbee_and_back(ours, digi, escaped):
    mode = OperatingMode.ESCAPED_API_MODE if escaped else OperatingMode.API_MODE
    wire = api.encode(ours, escaped=escaped)
    theirs = digi()
    # digi-xbee builds the same bytes …
    assert bytes(theirs.output(escaped=escaped)) == wire
    # … parses ours to the class we expect and writes it back unchanged …
    parsed = build_frame(bytearray(frames.unescape(wire) if escaped else wire), mode)
    assert type(parsed) is type(theirs)
    assert bytes(parsed.output(escaped=escaped)) == wire
    # … and we parse theirs to the same frame.
    (raw_frame,) = frames.Deframer(escaped=escaped).feed(bytes(theirs.output(escaped=escaped)))
    assert api.parse(raw_frame.data) == ours


def test_file_open_request_is_what_digi_xbee_builds():
    # Built one way only: digi-xbee 1.5.0 cannot output an OpenFileCmdRequest it parsed
    # (create_cmd keeps the flags as an int and _get_spec_data wants `.value`).
    theirs = filesystem.FSRequestPacket(
        0x08, OpenFileCmdRequest(0, "wgc.crt", FileOpenRequestOption(0x19))
    )
    ours = api.FileSystemRequest(0x08, 0x01, b"\x00\x00\x19wgc.crt")
    assert bytes(theirs.output()) == api.encode(ours)
    parsed = build_frame(bytearray(api.encode(ours)))
    assert parsed.command.name == "wgc.crt" and parsed.command.fs_id == 0


def test_tx_tls_profile_matches_the_digi_xbee_notes_wire_trace():
    # digi-xbee-notes §2d: a harness-side 0x23 packet on the wire (L-PY has no class).
    wire = bytes.fromhex("7e 00 10 23 0a 34 2b 79 4d 22 b3 00 00 01 00 6d 71 74 74 11")
    frame = api.TXRequestTLSProfile(0x0A, "52.43.121.77", 8883, 0, 1, 0, b"mqtt")
    assert api.encode(frame) == wire
    assert api.parse(wire[3:-1]) == frame


# Every byte vector of the reference, with the fields it states (reference §2, §8).
VECTORS = [
    ("7E 00 04 08 52 4E 48 0F", {"type": 0x08, "frame_id": 0x52, "command": "NH", "parameter": ""}),
    ("7E 00 08 08 01 4E 49 6E 61 6D 65 BE", {"command": "NI", "parameter": b"name".hex()}),
    ("7E 00 04 08 01 56 52 4E", {"frame_id": 1, "command": "VR", "parameter": ""}),
    ("7E 00 04 08 01 43 49 6A", {"frame_id": 1, "command": "CI", "parameter": ""}),
    (
        "7E 00 0F 08 02 44 4C 65 78 61 6D 70 6C 65 2E 63 6F 6D 0C",
        {"frame_id": 2, "command": "DL", "parameter": b"example.com".hex()},
    ),
    ("7E 00 06 08 03 44 45 01 BB AF", {"frame_id": 3, "command": "DE", "parameter": "01bb"}),
    (
        "7E 00 05 88 01 42 44 00 F0",
        {
            "type": 0x88,
            "frame_id": 1,
            "command": "BD",
            "status": 0,
            "status_name": "OK",
            "value": "",
        },
    ),
    ("7E 00 06 88 01 43 49 00 26 C4", {"command": "CI", "status": 0, "value": "26"}),
    (
        "7E 00 05 88 01 5A 5A 02 C0",
        {"command": "ZZ", "status": 2, "status_name": "INVALID_COMMAND"},
    ),
    ("7E 00 02 8A 00 75", {"type": 0x8A, "status": 0, "status_name": "HARDWARE_RESET"}),
    ("7E 00 02 8A 02 73", {"status": 2, "status_name": "JOINED_NETWORK"}),
    ("7E 00 02 8A 03 72", {"status": 3, "status_name": "DISASSOCIATED"}),
    (
        "7E 00 31 20 01 5D B8 D8 22 00 50 00 00 01 00" + GET.hex() + "9A",
        {
            "type": 0x20,
            "frame_id": 1,
            "dest_addr": "93.184.216.34",
            "dest_port": 80,
            "src_port": 0,
            "protocol": 1,
            "options": 0,
            "payload": GET.hex(),
        },
    ),
    (
        "7E 00 31 20 01 5D B8 D8 22 01 BB 00 00 04 00" + GET.hex() + "2B",
        {"dest_addr": "93.184.216.34", "dest_port": 443, "protocol": 4, "payload": GET.hex()},
    ),
    (
        "7E 00 31 23 01 5D B8 D8 22 01 BB 00 00 00 00" + GET.hex() + "2C",
        {
            "type": 0x23,
            "dest_addr": "93.184.216.34",
            "dest_port": 443,
            "tls_profile": 0,
            "options": 0,
            "payload": GET.hex(),
        },
    ),
    ("7E 00 03 89 01 00 75", {"type": 0x89, "frame_id": 1, "status": 0, "status_name": "SUCCESS"}),
    ("7E 00 03 89 01 86 EF", {"status": 0x86, "status_name": "INVALID_TLS_CONFIGURATION"}),
    ("7E 00 03 89 01 8B EA", {"status": 0x8B, "status_name": "TLS_AUTHENTICATION_ERROR"}),
    ("7E 00 03 89 01 80 F5", {"status": 0x80, "status_name": "SOCKET_CONNECTION_REFUSED"}),
    (
        "7E 00 0D B0 5D B8 D8 22 C3 50 01 BB 04 00 48 69 BC",
        {
            "type": 0xB0,
            "src_addr": "93.184.216.34",
            "dest_port": 0xC350,
            "src_port": 443,
            "protocol": 4,
            "status": 0,
            "payload": "4869",
        },
    ),
    ("7E 00 03 40 01 04 BA", {"type": 0x40, "frame_id": 1, "protocol": 4}),
    (
        "7E 00 05 41 01 00 00 01 BC",
        {"type": 0x41, "frame_id": 1, "socket_id": 0, "option_id": 0, "option_data": "01"},
    ),
    # digi-xbee-notes §2a/§2d wire traces
    ("7e 00 04 09 01 41 50 64", {"type": 0x09, "frame_id": 1, "command": "AP", "parameter": ""}),
    ("7e 00 06 08 0d 43 30 26 16 3b", {"frame_id": 0x0D, "command": "C0", "parameter": "2616"}),
    ("7e 00 07 88 05 48 56 00 4b 44 45", {"command": "HV", "status": 0, "value": "4b44"}),
    ("7e 00 09 88 03 4d 59 00 0a 01 02 03 be", {"command": "MY", "value": "0a010203"}),
]


@pytest.mark.parametrize(("hexstr", "fields"), VECTORS, ids=[v[0][:23] for v in VECTORS])
def test_reference_vectors_decode_to_the_stated_fields(hexstr, fields):
    wire = bytes.fromhex(hexstr)
    (raw_frame,) = frames.Deframer().feed(wire)
    assert isinstance(raw_frame, frames.RawFrame)
    frame = api.parse(raw_frame.data)
    got = frame.to_dict()
    assert "error" not in got
    assert {k: got[k] for k in fields} == fields
    assert api.encode(frame) == wire


def test_no_reference_vector_is_left_out():
    path = REFERENCE / "xbee3-protocol.md"
    if not path.exists():
        pytest.skip(f"{path} not present")
    found = {m.upper() for m in re.findall(r"`(7E(?: [0-9A-Fa-f]{2})+)`", path.read_text())}
    # The L-J vector is a deliberately malformed test input (reference §2.2).
    found.discard("7E 00 08 08 01 4E 49 41 54 49 81 7E")
    covered = {bytes.fromhex(h).hex() for h, _ in VECTORS}
    missing = {h for h in found if bytes.fromhex(h).hex() not in covered}
    assert not missing


# ----- parse never raises --------------------------------------------------------------------


def test_unknown_type_is_kept_whole():
    frame = api.parse(b"\x2d\x01\x02")
    assert frame == api.GenericFrame(0x2D, b"\x01\x02")
    assert frame.to_bytes() == b"\x2d\x01\x02"
    assert frame.to_dict() == {"type": 0x2D, "name": "Unknown frame type 0x2D", "data": "0102"}


@pytest.mark.parametrize("cls", list(api.REGISTRY.values()), ids=lambda c: c.__name__)
def test_every_known_type_too_short_is_a_bad_frame(cls):
    frame = api.parse(bytes((cls.FRAME_TYPE,)))
    if cls._STRUCT.size == 0:  # pragma: no cover - every class has at least one fixed field
        pytest.fail(f"{cls.__name__} has no fixed fields")
    assert isinstance(frame, api.BadFrame)
    d = frame.to_dict()
    assert d["type"] == cls.FRAME_TYPE and d["name"] == cls.NAME
    assert "needs at least" in d["error"]


def test_fixed_length_frame_with_extra_bytes_is_a_bad_frame():
    frame = api.parse(b"\x89\x01\x00\xff")
    assert isinstance(frame, api.BadFrame)
    assert "unexpected" in frame.error
    assert frame.to_bytes() == b"\x89\x01\x00\xff"


def test_binary_address_of_wrong_length_is_a_bad_frame():
    frame = api.parse(b"\x42\x01\x00\x01\xbb\x00\x7f\x00\x01")
    assert isinstance(frame, api.BadFrame)
    assert "4 address bytes" in frame.error


def test_empty_frame_data_is_a_bad_frame():
    frame = api.parse(b"")
    assert isinstance(frame, api.BadFrame) and frame.type is None
    assert "empty" in frame.to_dict()["error"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_parse_never_raises_and_round_trips(data):
    frame = api.parse(data)
    assert frame.to_bytes() == data
    assert isinstance(frame.to_dict(), dict)


# ----- building --------------------------------------------------------------------------------


def test_to_dict_keys_are_the_field_names():
    frame = api.TXStatus(7, 0x80)
    assert frame.to_dict() == {
        "type": 0x89,
        "name": "Transmit (TX) Status",
        "frame_id": 7,
        "status": 0x80,
        "status_name": "SOCKET_CONNECTION_REFUSED",
    }


def test_unknown_status_keeps_its_value():
    assert api.TXStatus(1, 0x8C).to_dict()["status_name"] == "unknown (0x8C)"


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (api.ATCommand(1, "DLX"), "ATCommand.command"),
        (api.TXStatus(256, 0), "frame_id=256"),
        (api.TXRequestIPv4(1, "example.com", 80, 0, 1), "TXRequestIPv4.dest_addr"),
        (api.TXSMS(1, 0, "1" * 21), "TXSMS.phone"),
        (api.SocketConnect(1, 0, 80, 0, "300.1.1.1"), "SocketConnect.dest_addr"),
    ],
)
def test_out_of_range_fields_name_the_field(frame, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        frame.to_bytes()


def test_frames_are_frozen_and_hashable():
    frame = api.ATCommand(1, "AP")
    with pytest.raises(AttributeError):
        frame.frame_id = 2  # type: ignore[misc]
    assert {frame, api.ATCommand(1, "AP")} == {frame}
    assert frame.type == 0x08


_IP = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
_KIND = {
    "u8": st.integers(0, 0xFF),
    "u16": st.integers(0, 0xFFFF),
    "u32": st.integers(0, 0xFFFFFFFF),
    "ip4": _IP,
    "cmd": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=2, max_size=2),
    "phone": st.text(st.characters(min_codepoint=0x30, max_codepoint=0x39), max_size=20),
}


def _frames():
    def build(cls):
        parts = [_KIND[k] for _, k in cls._LAYOUT]
        if cls is api.SocketConnect:
            return st.builds(
                lambda f, s, p, host: cls(f, s, p, 1, host),
                *parts[:3],
                st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
            ) | st.builds(lambda f, s, p, ip: cls(f, s, p, 0, ip), *parts[:3], _IP)
        if cls._REST is not None:
            parts.append(st.binary(max_size=64))
        return st.builds(cls, *parts)

    return st.one_of([build(c) for c in api.REGISTRY.values()])


@settings(max_examples=400, deadline=None)
@given(_frames(), st.booleans())
def test_every_frame_round_trips_through_the_wire(frame, escaped):
    wire = api.encode(frame, escaped=escaped)
    (raw_frame,) = frames.Deframer(escaped=escaped).feed(wire)
    assert api.parse(raw_frame.data) == frame
