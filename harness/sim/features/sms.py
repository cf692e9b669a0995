"""SMS frames: 0x1F TX SMS → 0x89, the message handed to the host's SMS sink (reference §2.10).

0x1F carries the destination number (20 bytes ASCII, NUL-padded) and the text (L-C sms.h,
at most 160 characters). The module answers 0x89 (D-89, D-XS: 0x89 "Used for 0x20, 0x23,
0x1F …"): 0x00 once the message is handed to the network, 0x22 when not registered, 0x2C
"Invalid frame values (check the phone number)" for a number that is not one, 0x74 "Message
too long" past 160 characters. The network side is the host's sink: it records and logs
each message (`harness.sim.host.sms`), where a test reads it (A-SMS-SINK).

An incoming SMS (`receive`, which `SimServer.deliver_sms` calls) comes out as 0x9F in API
mode while registered (L-C sms.h); otherwise it is not delivered (A-SMS-SINK).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from harness.sim.core.effects import Failure, SendSms
from harness.sim.core.feature import Feature
from harness.xbee import api
from harness.xbee.codes import TxStatus

log = logging.getLogger(__name__)

MAX_TEXT = 160  # L-C sms.h: message max 160 chars
TX_SUCCESS = TxStatus.SUCCESS
TX_BAD_NUMBER = TxStatus.INVALID_ENDPOINT  # D-89 0x2C "check the phone number"
TX_TOO_LONG = TxStatus.PAYLOAD_TOO_LARGE  # D-89 0x74 "Message too long"
# A phone number: digits, an optional leading "+" (A-SMS-SINK: the module's own check is
# not documented beyond D-89's "check the phone number").
PHONE = re.compile(r"\+?[0-9]{1,19}")


class Sms(Feature):
    """0x1F with a 0x89 answer; the text goes to the host's sink as `SendSms`."""

    name = "sms"
    frame_types = (0x1F,)

    def on_frame(self, frame: Any, now: float) -> None:
        if not isinstance(frame, api.TXSMS):
            log.info("SMS frame dropped: %s", getattr(frame, "error", frame))
            return
        phone = frame.phone.rstrip("\0")
        text = bytes(frame.payload)
        if not PHONE.fullmatch(phone):
            self._status(frame.frame_id, TX_BAD_NUMBER)
        elif len(text) > MAX_TEXT:
            self._status(frame.frame_id, TX_TOO_LONG)
        elif not self.modem.registered:
            self._status(frame.frame_id,
                         self.modem.code_for(Failure.NOT_REGISTERED, "tx_status"))
        else:
            self.modem.emit(SendSms(phone, text))
            self._status(frame.frame_id, TX_SUCCESS)

    def _status(self, frame_id: int, status: int) -> None:
        if frame_id:  # frame ID 0: no 0x89 (as for 0x20, D-20)
            self.modem.send_frame(api.TXStatus(frame_id, status))

    def receive(self, phone: str, text: bytes) -> bool:
        """An SMS from the network: 0x9F to the host; False when it cannot be delivered
        (not in API mode, not registered, or a number or text the frame cannot carry)."""
        if not (self.modem.api_mode and self.modem.registered):
            return False
        if len(phone.encode("ascii", "replace")) > api.PHONE_LEN or len(text) > MAX_TEXT:
            return False
        self.modem.send_frame(api.RXSMS(phone, text))
        return True
