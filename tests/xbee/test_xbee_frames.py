"""harness.xbee.frames: the envelope codec and the streaming Deframer (reference §1.1, §1.2).

Properties run in AP=1 and AP=2. Strict ones (exact output) use inputs where the result is
determined: garbage without 0x7E, corruptions that cannot change where a frame ends. In
AP=1 a stray 0x7E can start a fake header whose checksum matches by chance (1 in 256), so
arbitrary garbage gets the weaker property: nothing raises, and every frame that comes out
is a real, checksum-valid frame.
"""

from __future__ import annotations

import pytest
from digi.xbee.models.mode import OperatingMode
from digi.xbee.packets.base import XBeeAPIPacket
from digi.xbee.packets.factory import build_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.xbee import frames
from harness.xbee.frames import Deframer, FrameError, RawFrame

SPECIAL = bytes((0x7E, 0x7D, 0x11, 0x13))

frame_data = st.binary(min_size=1, max_size=200)
# Frame data rich in bytes AP=2 must escape.
special_heavy = st.lists(
    st.sampled_from([*SPECIAL, 0x00, 0x20, 0x5E, 0xFF]), min_size=1, max_size=60
)
any_frame_data = frame_data | special_heavy.map(bytes)
no_delim = st.binary(max_size=40).map(lambda b: b.replace(b"\x7e", b"\x7f"))
modes = st.sampled_from([False, True])


def run(deframer: Deframer, wire: bytes, cuts: list[int]) -> list[RawFrame | FrameError]:
    """Feed `wire` split at `cuts`, then flush."""
    events: list[RawFrame | FrameError] = []
    prev = 0
    for cut in sorted(set(cuts)):
        events += deframer.feed(wire[prev:cut])
        prev = cut
    events += deframer.feed(wire[prev:])
    events += deframer.flush()
    return events


def cuts_for(data: st.DataObject, length: int) -> list[int]:
    return data.draw(st.lists(st.integers(0, length), max_size=12), label="cuts")


# ----- codec ---------------------------------------------------------------------------------


def test_checksum_of_reference_vector():
    # D-88 / D-EX-900: BD set OK, fid 1.
    wire = bytes.fromhex("7E 00 05 88 01 42 44 00 F0")
    assert frames.checksum(wire[3:-1]) == 0xF0
    assert frames.encode(wire[3:-1]) == wire


def test_escape_each_special_byte():
    # D-ESC: 0x7D then the byte XOR 0x20.
    assert frames.escape(b"\x7e\x7d\x11\x13A") == b"\x7d\x5e\x7d\x5d\x7d\x31\x7d\x33A"
    assert frames.unescape(b"\x7d\x5e\x7d\x5d\x7d\x31\x7d\x33A") == b"\x7e\x7d\x11\x13A"


def test_escaped_encode_matches_digi_xbee_and_never_escapes_the_delimiter():
    # digi-xbee-notes §2a: SL = 7e 11 13 7d in an 0x88 reply, escaped.
    data = bytes.fromhex("88 07 53 4C 00 7E 11 13 7D")
    wire = frames.encode(data, escaped=True)
    assert wire[0] == 0x7E and 0x7E not in wire[1:]
    packet = build_frame(bytearray(frames.encode(data)), OperatingMode.API_MODE)
    assert bytes(packet.output(escaped=True)) == wire
    assert bytes(XBeeAPIPacket.unescape_data(bytearray(wire))) == frames.encode(data)


@settings(deadline=None)  # no per-example time limit: CI hosts are loaded
@given(st.binary(max_size=300))
def test_unescape_inverts_escape(data):
    escaped = frames.escape(data)
    assert not any(b in escaped for b in (0x7E, 0x11, 0x13))
    assert frames.unescape(escaped) == data


@pytest.mark.parametrize("n", [0, 0x10000])
def test_encode_rejects_impossible_lengths(n):
    with pytest.raises(ValueError, match="frame data must be"):
        frames.encode(b"\x08" * n)


# ----- strict properties -----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(any_frame_data, max_size=8), modes, st.data())
def test_clean_stream_any_chunking(datas, escaped, data):
    wire = b"".join(frames.encode(d, escaped=escaped) for d in datas)
    deframer = Deframer(escaped=escaped)
    events = run(deframer, wire, cuts_for(data, len(wire)))
    assert events == [RawFrame(d, frames.encode(d, escaped=escaped)) for d in datas]
    assert deframer.discarded == 0 and deframer.pending == b""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(no_delim, any_frame_data), max_size=6), no_delim, modes, st.data())
def test_garbage_without_delimiter_is_skipped(pairs, tail, escaped, data):
    wire = b"".join(g + frames.encode(d, escaped=escaped) for g, d in pairs) + tail
    deframer = Deframer(escaped=escaped)
    events = run(deframer, wire, cuts_for(data, len(wire)))
    assert events == [RawFrame(d, frames.encode(d, escaped=escaped)) for _, d in pairs]
    assert deframer.discarded == sum(len(g) for g, _ in pairs) + len(tail)


def _without_delimiter(d: bytes) -> bytes:
    """`d` changed so its AP=1 frame has no 0x7E after the delimiter (length, data, checksum)."""
    d = d.replace(b"\x7e", b"\x7f")
    while 0x7E in frames.encode(d)[1:]:
        d += b"\x01"
    return d


def _data_positions(wire: bytes, escaped: bool) -> list[int]:
    """Wire offsets of frame data and checksum bytes where a new value changes one byte only.

    In AP=2 that excludes the 0x7D of an escape pair (it would change where bytes fall) but
    includes the byte after it.
    """
    if not escaped:
        return list(range(3, len(wire)))
    positions, i, seen = [], 1, 0
    while i < len(wire):
        pair = wire[i] == 0x7D
        if seen >= 2:  # past the two length bytes
            positions.append(i + 1 if pair else i)
        i += 2 if pair else 1
        seen += 1
    return positions


@settings(max_examples=200, deadline=None)
@given(st.lists(any_frame_data, min_size=1, max_size=6), modes, st.data())
def test_corrupted_frame_is_one_checksum_error_and_the_rest_survive(datas, escaped, data):
    if not escaped:
        # AP=1: a 0x7E inside the bad frame would be rescanned as a header (see module doc).
        datas = [_without_delimiter(d) for d in datas]
    wires = [frames.encode(d, escaped=escaped) for d in datas]
    k = data.draw(st.integers(0, len(wires) - 1), label="k")
    pos = data.draw(st.sampled_from(_data_positions(wires[k], escaped)), label="pos")
    forbidden = set(SPECIAL) | {wires[k][pos]}
    new = data.draw(st.integers(0, 255).filter(lambda b: b not in forbidden), label="byte")
    bad = bytearray(wires[k])
    bad[pos] = new
    wires_bad = [*wires[:k], bytes(bad), *wires[k + 1 :]]
    events = run(
        Deframer(escaped=escaped), b"".join(wires_bad), cuts_for(data, sum(map(len, wires)))
    )
    assert [e for e in events if isinstance(e, RawFrame)] == [
        RawFrame(d, w) for i, (d, w) in enumerate(zip(datas, wires, strict=True)) if i != k
    ]
    errors = [e for e in events if isinstance(e, FrameError)]
    assert [(e.kind, e.raw) for e in errors] == [("checksum", bytes(bad))]
    assert events.index(errors[0]) == k


@settings(max_examples=200, deadline=None)
@given(st.lists(any_frame_data, min_size=1, max_size=6), st.data())
def test_truncated_frame_in_ap2_is_reported_and_the_next_one_survives(datas, data):
    # AP=2: every 0x7E starts a new frame (D-FMT-C1 p.121), so a cut frame cannot eat the next.
    wires = [frames.encode(d, escaped=True) for d in datas]
    k = data.draw(st.integers(0, len(wires) - 1), label="k")
    cut = data.draw(st.integers(1, len(wires[k]) - 1), label="cut")
    short = wires[k][:cut]
    stream = b"".join([*wires[:k], short, *wires[k + 1 :]])
    events = run(Deframer(escaped=True), stream, cuts_for(data, len(stream)))
    expected: list[RawFrame | FrameError] = [
        RawFrame(d, w) for d, w in zip(datas, wires, strict=True)
    ]
    expected[k] = FrameError("truncated", short, f"frame cut off after {len(short)} bytes")
    assert events == expected


# ----- weak property: anything at all ---------------------------------------------------


@st.composite
def hostile_streams(draw, escaped: bool):
    """Valid frames, arbitrary garbage (0x7E included), corruptions, truncations."""
    datas = draw(st.lists(any_frame_data, max_size=6))
    parts: list[bytes] = []
    intact: list[bytes] = []
    for d in datas:
        parts.append(draw(st.binary(max_size=30)))
        wire = bytearray(frames.encode(d, escaped=escaped))
        action = draw(st.sampled_from(["keep", "keep", "flip", "cut"]))
        if action == "flip":
            i = draw(st.integers(0, len(wire) - 1))
            wire[i] = draw(st.integers(0, 255))
        elif action == "cut":
            wire = wire[: draw(st.integers(0, len(wire) - 1))]
        if action == "keep" or bytes(wire) == frames.encode(d, escaped=escaped):
            intact.append(d)
        parts.append(bytes(wire))
    parts.append(draw(st.binary(max_size=30)))
    return b"".join(parts), intact


def _is_subsequence(needles: list[bytes], haystack: list[bytes]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


@settings(max_examples=200, deadline=None)
@given(modes.flatmap(lambda e: st.tuples(st.just(e), hostile_streams(e))), st.data())
def test_hostile_stream_never_raises_and_only_valid_frames_come_out(case, data):
    escaped, (wire, intact) = case
    deframer = Deframer(escaped=escaped)
    events = run(deframer, wire, cuts_for(data, len(wire)))
    assert deframer.pending == b""
    for event in events:
        if isinstance(event, RawFrame):
            assert len(event.data) >= 1
            assert (sum(event.data) + frames.checksum(event.data)) & 0xFF == 0xFF
            if escaped:
                body = frames.unescape(event.raw[1:])
                assert body[2 : 2 + len(event.data)] == event.data
                assert frames.checksum(event.data) == body[2 + len(event.data)]
            else:
                assert event.raw == frames.encode(event.data)
        else:
            assert isinstance(event, FrameError)
            assert event.kind in {"checksum", "length", "truncated"}
            assert event.raw[:1] == b"\x7e" and event.describe()
    if escaped:
        # Every 0x7E restarts (D-FMT-C1), so untouched frames always come out, in order.
        got = [e.data for e in events if isinstance(e, RawFrame)]
        assert _is_subsequence(intact, got)


# ----- details -------------------------------------------------------------------------


@pytest.mark.parametrize("escaped", [False, True])
def test_bad_lengths_are_errors_then_the_stream_resyncs(escaped):
    good = frames.encode(b"\x8a\x02", escaped=escaped)
    over = frames.MAX_FRAME_DATA + 1
    wire = b"\x7e\x00\x00" + bytes((0x7E, over >> 8, over & 0xFF)) + good
    events = run(Deframer(escaped=escaped), wire, [])
    assert [e.kind for e in events if isinstance(e, FrameError)] == ["length", "length"]
    assert events[-1] == RawFrame(b"\x8a\x02", good)
    assert "bad length 0x0801" in events[1].describe()


@pytest.mark.parametrize("escaped", [False, True])
def test_largest_documented_frame_passes(escaped):
    # 0x20 with a 1500-byte payload: 15-byte header + 1500 (D-20).
    data = b"\x20\x01\x7f\x00\x00\x01\x01\xbb\x00\x00\x04\x00" + bytes(range(256)) * 6
    data = data[: 12 + 1500]
    wire = frames.encode(data, escaped=escaped)
    assert run(Deframer(escaped=escaped), wire, list(range(0, len(wire), 7))) == [
        RawFrame(data, wire)
    ]


def test_bad_checksum_names_both_values():
    wire = bytearray(frames.encode(b"\x89\x01\x00"))
    wire[-1] ^= 0xFF
    (event,) = run(Deframer(), bytes(wire), [])
    assert event.kind == "checksum"
    assert "bad checksum 0x8A, expected 0x75" in event.describe()
    assert "7e 00 03 89 01 00 8a" in event.describe()


def test_pending_holds_a_partial_frame_until_flush():
    wire = frames.encode(b"\x08\x01AP")
    deframer = Deframer()
    assert deframer.feed(wire[:4]) == []
    assert deframer.pending == wire[:4]
    (event,) = deframer.flush()
    assert event.kind == "truncated" and event.raw == wire[:4]
    assert deframer.pending == b""


def test_escaped_checksum_split_across_feeds():
    # Checksum 0x7D must be escaped; the stream is cut between 0x7D and its pair.
    data = b"\x08\x01\x41\x43"  # sum 0x8D, checksum 0x72 … find data whose checksum is special
    for extra in range(256):
        data = b"\x08\x01AP" + bytes((extra,))
        if frames.checksum(data) == 0x7D:
            break
    wire = frames.encode(data, escaped=True)
    assert wire[-2:] == b"\x7d\x5d"
    deframer = Deframer(escaped=True)
    assert deframer.feed(wire[:-1]) == []
    assert deframer.feed(wire[-1:]) == [RawFrame(data, wire)]


def test_mode_can_change_between_feeds():
    # AP changes from 1 to 2 (e.g. after ATAP2 + AC): the next frames are escaped.
    deframer = Deframer()
    plain = frames.encode(b"\x88\x01AP\x00")
    assert deframer.feed(plain) == [RawFrame(b"\x88\x01AP\x00", plain)]
    deframer.escaped = True
    esc = frames.encode(b"\x8a\x7d", escaped=True)
    assert deframer.feed(esc) == [RawFrame(b"\x8a\x7d", esc)]


def test_ap1_rescans_inside_a_frame_that_failed_its_checksum():
    # A corrupted length makes the first frame cover the second; after the checksum fails the
    # search restarts one byte after the delimiter and still finds the second frame.
    second = frames.encode(b"\x89\x01\x00")
    wire = b"\x7e\x00\x0a\x8a" + second + b"\x00\x00\x00"
    events = run(Deframer(), wire, [])
    assert [type(e).__name__ for e in events] == ["FrameError", "RawFrame"]
    assert events[0].kind == "checksum" and events[1] == RawFrame(b"\x89\x01\x00", second)


def test_ap1_flush_rescans_inside_a_truncated_frame():
    second = frames.encode(b"\x8a\x00")
    events = run(Deframer(), b"\x7e\x00\x50\x8a" + second, [])
    assert events[0].kind == "truncated"
    assert events[1:] == [RawFrame(b"\x8a\x00", second)]


@pytest.mark.parametrize("escaped", [False, True])
def test_a_frame_after_flush_is_not_held_back(escaped):
    # The Deframer skips splitting while a long frame is still arriving; flush ends that.
    deframer = Deframer(escaped=escaped)
    long_frame = frames.encode(b"\x20" + bytes(600), escaped=escaped)
    assert deframer.feed(long_frame[:10]) == []
    assert deframer.flush()[0].kind == "truncated"
    short = frames.encode(b"\x8a\x00", escaped=escaped)
    assert deframer.feed(short) == [RawFrame(b"\x8a\x00", short)]


def test_delimiter_in_a_small_read_ends_the_wait_in_ap2():
    deframer = Deframer(escaped=True)
    long_frame = frames.encode(b"\x20" + bytes(600), escaped=True)
    short = frames.encode(b"\x8a\x00", escaped=True)
    assert deframer.feed(long_frame[:10]) == []
    events = deframer.feed(short)
    assert [type(e).__name__ for e in events] == ["FrameError", "RawFrame"]
    assert events[1] == RawFrame(b"\x8a\x00", short)
