"""The simulated network's SMS side: every message the module sends (0x1F), kept in order.

The sink a test reads (`SimServer.sms.messages()`), that `xbee-sim` logs (INFO) and, with
`--sms-log FILE`, appends to FILE as JSON lines (`{"to": …, "text": …}`) (A-SMS-SINK).
Thread-safe: the server's loop records, a test thread reads.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str
    text: bytes


class SmsOutbox:
    """Messages sent by the module, and an optional JSON Lines file of them."""

    def __init__(self, log_path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._sent: list[SmsMessage] = []
        self.log_path = Path(log_path) if log_path else None

    def record(self, to: str, text: bytes) -> None:
        message = SmsMessage(to, text)
        with self._lock:
            self._sent.append(message)
        log.info("SMS to %s: %r", to, text)
        if self.log_path is not None:
            line = json.dumps({"to": to, "text": text.decode("utf-8", "replace")})
            try:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError as err:
                log.warning("--sms-log %s: %s", self.log_path, err.strerror or err)

    def messages(self) -> list[SmsMessage]:
        with self._lock:
            return list(self._sent)
