"""The capture cuts a stream with the xbee `Deframer` (one frame splitter), keeping the text
between frames; a 0x7E always starts a new AP=2 frame, as the Deframer says (D-FMT-C1)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.capture import split_units
from harness.xbee import frames


def _split(buf: bytes) -> list[tuple[str, bytes]]:
    units, held = split_units(buf, final=True, hold_text=lambda _t: False)
    assert held == b""
    return [(u.kind, u.raw) for u in units]


def test_text_between_frames_is_kept_by_line() -> None:
    f1 = frames.encode(bytes.fromhex("0801414e"))
    f2 = frames.encode(bytes.fromhex("8801414e00"), escaped=True)
    buf = b"+++OK\rATAP\r" + f1 + b"noise" + f2 + b"1\r"
    assert _split(buf) == [
        ("text", b"+++OK\r"),
        ("text", b"ATAP\r"),
        ("frame", f1),
        ("text", b"noise"),
        ("frame", f2),
        ("text", b"1\r"),
    ]


def test_an_escape_byte_before_0x7e_does_not_swallow_the_next_frame() -> None:
    """`7D 7E` in AP=2: the 0x7E starts the next frame (the Deframer's rule); the splitter
    the capture had before unescaped it and held the good frame that follows back."""
    good = frames.encode(bytes.fromhex("8a00"), escaped=True)
    broken = bytes.fromhex("7e00070c7d")  # AP=1 reading: a bad checksum; AP=2: cut by 0x7E
    units, held = split_units(broken + good, final=False, hold_text=lambda _t: False)
    assert [(u.kind, u.raw) for u in units] == [("opaque", broken), ("frame", good)]
    assert held == b""


@given(st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=5), st.booleans())
def test_frames_found_are_the_deframers(payloads: list[bytes], escaped: bool) -> None:
    buf = b"".join(frames.encode(p, escaped=escaped) + b"AT\r" for p in payloads)
    units, _ = split_units(buf, final=True, hold_text=lambda _t: False)
    got = [u.data for u in units if u.kind == "frame"]
    deframer = frames.Deframer(escaped=escaped)
    want = [f.data for f in deframer.feed(buf) if isinstance(f, frames.RawFrame)]
    assert got == want == payloads
    assert b"".join(u.raw for u in units) == buf
