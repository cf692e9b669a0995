"""The module's YMODEM receiver NAKs the first EOT and ACKs the second (A-YMODEM-EOT).

N-XBS's mock of the module (field-evidence §1c) writes NAK after the first EOT, then ACK and
"C" after the second, as lrzsz's `rz` does; senders (digi-xbee `_send_eot`, ours) resend EOT
on a NAK, so the file still arrives.
"""

from __future__ import annotations

from harness.xbee.ymodem import (
    ACK,
    CRC_MODE,
    EOT,
    NAK,
    YmodemReceiver,
    YmodemSender,
    block0_payload,
    build_block,
)


def _receiver_at_eot() -> YmodemReceiver:
    rx = YmodemReceiver(nak_first_eot=True)
    rx.start(0.0)
    rx.feed(build_block(0, block0_payload("a", 3)), 0.0)
    rx.feed(build_block(1, b"abc".ljust(128, b"\x1a")), 0.0)
    return rx


def test_first_eot_is_naked_second_is_acked() -> None:
    rx = _receiver_at_eot()
    assert rx.feed(bytes((EOT,)), 0.0) == bytes((NAK,))
    assert rx.result is None  # not delivered on the first EOT
    assert rx.feed(bytes((EOT,)), 0.0) == bytes((ACK, CRC_MODE))
    assert rx.result is not None and rx.result.data == b"abc"


def test_the_default_receiver_acks_the_first_eot() -> None:
    rx = YmodemReceiver()
    rx.start(0.0)
    rx.feed(build_block(0, block0_payload("a", 3)), 0.0)
    rx.feed(build_block(1, b"abc".ljust(128, b"\x1a")), 0.0)
    assert rx.feed(bytes((EOT,)), 0.0) == bytes((ACK, CRC_MODE))


def test_our_sender_resends_eot_after_the_nak() -> None:
    tx2, rx2 = YmodemSender("b", b"xyz" * 100), YmodemReceiver(nak_first_eot=True)
    to_rx, to_tx = b"", rx2.start(0.0)
    eots = 0
    for _ in range(200):
        if to_tx:
            to_rx, to_tx = to_rx + tx2.feed(to_tx, 0.0), b""
        elif to_rx:
            eots += to_rx.count(bytes((EOT,))) if len(to_rx) == 1 else 0
            to_tx, to_rx = rx2.feed(to_rx, 0.0), b""
        else:
            break
    assert eots == 2
    assert tx2.result and rx2.result is not None and rx2.result.data == b"xyz" * 100
