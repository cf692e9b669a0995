"""YMODEM (batch, CRC-16) sender and receiver as sans-IO state machines (reference §6.3).

The module runs a YMODEM receive for `ATFS PUT`/`XPUT` and a send for `ATFS GET`; the harness
runs the other end to upload certificates. Both ends are byte-in/bytes-out: `feed(data, now)`
and `tick(now)` return the bytes to write back, and time is an argument, so retries and
timeouts are exact and testable without sleeping. They interoperate with digi-xbee's
`util/xmodem.py` (L-PY) and with lrzsz's `sz --ymodem` / `rz --ymodem`.

Wire format (L-PY `util/xmodem.py`, reference §6.3): a block is SOH (128 data bytes) or STX
(1024), the sequence number, its complement, the data and a CRC-16-CCITT (poly 0x1021,
init 0) big-endian. Block 0 carries `name NUL size-decimal [SP mtime-octal]`; a short last
data block is padded with 0x1A; the transfer ends with EOT, then an all-zero block 0.
"""

from __future__ import annotations

import binascii
import enum
from dataclasses import dataclass

SOH = 0x01  # 128-byte block (L-PY XMODEM_SOH)
STX = 0x02  # 1024-byte block (L-PY XMODEM_STX)
EOT = 0x04  # end of transmission (L-PY XMODEM_EOT)
ACK = 0x06  # L-PY XMODEM_ACK
NAK = 0x15  # L-PY XMODEM_NAK; also "checksum mode, please" as a start byte
CAN = 0x18  # L-PY XMODEM_CAN
CRC_MODE = 0x43  # "C": receiver asks for CRC-16 mode (L-PY XMODEM_CRC)
PAD = 0x1A  # padding of a short last block (L-PY _PADDING_BYTE_YMODEM)

BLOCK_128 = 128
BLOCK_1K = 1024
_SIZES = {SOH: BLOCK_128, STX: BLOCK_1K}

# Timing. The reference gives digi-xbee's host side (1 s reads, 10 retries: L-PY); the
# module's own timers are not documented. ASSUMPTION A-YMODEM-TIMERS (docs/assumptions.md).
START_INTERVAL = 1.0  # receiver repeats "C" this often until the sender starts
START_RETRIES = 60  # … this many times (a minute, long enough to start `sz` by hand)
BLOCK_TIMEOUT = 10.0  # receiver NAKs / sender resends after this long without progress
# After EOT is ACKed the file is delivered; the closing block 0 only ends the batch. lrzsz's
# `rz` on a pty sometimes loses its ACK of it when it exits, so the sender waits this long
# and then counts the transfer done (ours, not in the reference: A-YMODEM-TIMERS).
FINAL_TIMEOUT = 1.0
RETRIES = 10  # consecutive failures of one block before giving up (L-PY _XMODEM_*_RETRIES)
CANCEL = bytes((CAN, CAN))  # two CANs abort a transfer (XMODEM convention; L-PY aborts on one)


def crc16(data: bytes) -> int:
    """CRC-16-CCITT (XMODEM): poly 0x1021, initial value 0 (L-PY `_calculate_crc16_ccitt`)."""
    return binascii.crc_hqx(data, 0)


def checksum8(data: bytes) -> int:
    """The 8-bit arithmetic checksum of plain XMODEM (L-PY `_calculate_checksum`)."""
    return sum(data) & 0xFF


def build_block(seq: int, payload: bytes, *, crc: bool = True) -> bytes:
    """One framed block; `payload` must be exactly 128 or 1024 bytes."""
    if len(payload) == BLOCK_128:
        head = SOH
    elif len(payload) == BLOCK_1K:
        head = STX
    else:
        raise ValueError(f"YMODEM block payload must be 128 or 1024 bytes, not {len(payload)}")
    seq &= 0xFF
    tail = crc16(payload).to_bytes(2, "big") if crc else bytes((checksum8(payload),))
    return bytes((head, seq, 0xFF - seq)) + payload + tail


def block0_payload(name: str, size: int, mtime: int | None = None) -> bytes:
    """Block 0 data: `name NUL size [SP mtime-octal]`, NUL-padded to 128 (or 1024) bytes."""
    info = str(size) if mtime is None else f"{size} {mtime:o}"
    raw = name.encode("utf-8") + b"\0" + info.encode("ascii") + b"\0"
    if len(raw) > BLOCK_1K:
        raise ValueError(f"YMODEM file name too long for block 0: {name!r}")
    return raw.ljust(BLOCK_128 if len(raw) <= BLOCK_128 else BLOCK_1K, b"\0")


def parse_block0(payload: bytes) -> tuple[str, int | None] | None:
    """(name, size or None) from block 0, or None for the empty block 0 that ends a batch."""
    if not payload or payload[0] == 0:
        return None
    name, _, rest = payload.partition(b"\0")
    fields = rest.split(b"\0", 1)[0].split()
    size: int | None = None
    if fields:
        try:
            size = int(fields[0].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            size = None
    return name.decode("utf-8", errors="replace"), size


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """What a receive produced: the name and size the sender announced, and the bytes."""

    name: str
    size: int | None
    data: bytes


class _Machine:
    """Shared bookkeeping: one deadline, a retry counter, the done/error outcome."""

    def __init__(self) -> None:
        self.done = False
        self.error: str | None = None
        self._deadline: float | None = None
        self._started = False

    def next_deadline(self) -> float | None:
        """When `tick` next has something to do (None once finished)."""
        return None if self.done else self._deadline

    def _fail(self, why: str, *, cancel: bool = True) -> bytes:
        self.done = True
        self.error = why
        self._deadline = None
        return CANCEL if cancel else b""

    def _finish(self) -> None:
        self.done = True
        self._deadline = None


class _RxState(enum.Enum):
    HEADER = "header"  # waiting for block 0 (sending "C")
    DATA = "data"  # data blocks or EOT
    TRAILER = "trailer"  # after EOT: waiting for the closing empty block 0 (sending "C")


class YmodemReceiver(_Machine):
    """Receives one file (CRC-16 mode). `start(now)` sends the first "C"; then feed / tick.

    `max_size` (bytes) cancels a transfer that announces or sends more (the 1 MB volume).
    A sender that retransmits a block whose ACK it missed gets it ACKed again, not stored twice.
    `nak_first_eot`: answer the first EOT with NAK and only the repeated one with ACK, as `rz`
    does (field-evidence §1c: N-XBS's module mock; A-YMODEM-EOT). A sender one stale byte
    behind (a lost ACK that crossed a resend) then reads the NAK as the next answer.
    """

    def __init__(
        self,
        *,
        max_size: int | None = None,
        start_interval: float = START_INTERVAL,
        start_retries: int = START_RETRIES,
        timeout: float = BLOCK_TIMEOUT,
        retries: int = RETRIES,
        nak_first_eot: bool = False,
    ) -> None:
        super().__init__()
        self.max_size = max_size
        # NAK the first EOT, ACK the repeat (A-YMODEM-EOT: the module's choice, a quirk)
        self.nak_first_eot = nak_first_eot
        self.start_interval = start_interval
        self.start_retries = start_retries
        self.timeout = timeout
        self.retries = retries
        self.result: ReceivedFile | None = None
        self.oversize = False  # the transfer was refused for `max_size`
        self._state = _RxState.HEADER
        self._buf = bytearray()
        self._expected = 0  # next sequence number
        self._failures = 0
        self._name = ""
        self._size: int | None = None
        self._data = bytearray()
        self._eot_naked = not nak_first_eot  # the first EOT got its NAK (A-YMODEM-EOT)

    def start(self, now: float) -> bytes:
        """Announce readiness: the first "C" (CRC-16 mode)."""
        self._started = True
        self._deadline = now + self.start_interval
        return bytes((CRC_MODE,))

    def feed(self, data: bytes, now: float) -> bytes:
        if self.done:
            return b""
        out = bytearray() if self._started else bytearray(self.start(now))
        self._buf += data
        while self._buf and not self.done:
            step = self._step(now)
            if step is None:
                break  # need more bytes
            out += step
        return bytes(out)

    def tick(self, now: float) -> bytes:
        if self.done or self._deadline is None or now < self._deadline:
            return b""
        self._buf.clear()  # a partial block that stalled is line noise
        self._failures += 1
        if self._state is _RxState.TRAILER and self._failures >= self.retries:
            self._finish()  # the file was complete at EOT; the sender just never closed
            return b""
        if self._state in (_RxState.HEADER, _RxState.TRAILER):
            if self._failures >= self.start_retries:
                return self._fail(f"no YMODEM sender after {self._failures} requests")
            self._deadline = now + self.start_interval
            return bytes((CRC_MODE,))
        if self._failures >= self.retries:
            return self._fail(f"block {self._expected}: timed out {self._failures} times")
        self._deadline = now + self.timeout
        return bytes((NAK,))

    # ----- one protocol unit from the buffer -------------------------------------------

    def _step(self, now: float) -> bytes | None:
        head = self._buf[0]
        if head == CAN:
            if len(self._buf) < 2:
                return None
            if self._buf[1] == CAN:
                return self._fail("cancelled by the sender", cancel=False)
            del self._buf[0]
            return b""
        if head == EOT:
            del self._buf[0]
            return self._on_eot(now)
        size = _SIZES.get(head)
        if size is None:
            del self._buf[0]  # noise between blocks (e.g. a terminal's echo): skip it
            return b""
        total = 3 + size + 2
        if len(self._buf) < total:
            return None
        block = bytes(self._buf[:total])
        seq, cseq, payload = block[1], block[2], block[3 : 3 + size]
        if seq != 0xFF - cseq or crc16(payload) != int.from_bytes(block[-2:], "big"):
            self._buf.clear()  # purge what follows a damaged block, then ask again
            return self._nak(now, f"block {self._expected}: bad CRC or sequence")
        del self._buf[:total]
        return self._on_block(seq, payload, now)

    def _nak(self, now: float, why: str) -> bytes:
        self._failures += 1
        if self._failures >= self.retries:
            return self._fail(why)
        self._deadline = now + self.timeout
        return bytes((NAK,))

    def _progress(self, now: float) -> None:
        self._failures = 0
        self._deadline = now + self.timeout

    def _on_block(self, seq: int, payload: bytes, now: float) -> bytes:
        if self._state is _RxState.HEADER:
            if seq != 0:
                return self._nak(now, f"expected block 0, got block {seq}")
            info = parse_block0(payload)
            if info is None:  # empty batch: nothing was sent
                self._finish()
                return bytes((ACK,))
            self._name, self._size = info
            if self.max_size is not None and self._size is not None and self._size > self.max_size:
                self.oversize = True
                return self._fail(f"file of {self._size} bytes exceeds {self.max_size}")
            self._state = _RxState.DATA
            self._expected = 1
            self._progress(now)
            return bytes((ACK, CRC_MODE))  # ACK block 0, then "C" to start the data
        if self._state is _RxState.TRAILER:
            if seq != 0:
                return self._nak(now, f"expected the closing block 0, got block {seq}")
            if parse_block0(payload) is None:
                self._finish()
                return bytes((ACK,))
            # a second file in the batch: one file per PUT, so stop the sender here
            self._finish()
            return CANCEL
        if seq == (self._expected - 1) & 0xFF:
            self._progress(now)
            return bytes((ACK,))  # a repeat of a block we had: the sender missed our ACK
        if seq != self._expected & 0xFF:
            return self._nak(now, f"expected block {self._expected}, got block {seq}")
        self._data += payload
        if self.max_size is not None and len(self._data) > self.max_size + BLOCK_1K:
            self.oversize = True
            return self._fail(f"file exceeds {self.max_size} bytes")
        self._expected += 1
        self._progress(now)
        return bytes((ACK,))

    def _on_eot(self, now: float) -> bytes:
        if self._state is _RxState.TRAILER:
            return bytes((ACK, CRC_MODE))  # the sender missed our ACK of its EOT
        if self._state is not _RxState.DATA:
            return b""  # a stray EOT before any file: ignore
        if not self._eot_naked:
            # NAK the first EOT, ACK the second, as `rz` and N-XBS's module mock do
            # (field-evidence §1c; ASSUMPTION A-YMODEM-EOT): a real sender resends it.
            self._eot_naked = True
            self._deadline = now + self.timeout
            return bytes((NAK,))
        data = bytes(self._data)
        # the announced size cuts the padding; without one, strip trailing 0x1A (YMODEM)
        data = data[: self._size] if self._size is not None else data.rstrip(bytes((PAD,)))
        if self.max_size is not None and len(data) > self.max_size:
            self.oversize = True
            return self._fail(f"file of {len(data)} bytes exceeds {self.max_size}")
        self.result = ReceivedFile(self._name, self._size, data)
        self._state = _RxState.TRAILER
        self._failures = 0
        self._deadline = now + self.start_interval
        return bytes((ACK, CRC_MODE))


class _TxState(enum.Enum):
    WAIT_START = "wait_start"  # for "C" (or NAK: checksum mode)
    WAIT_ACK0 = "wait_ack0"  # block 0 sent
    WAIT_GO = "wait_go"  # block 0 ACKed: wait for "C" before data
    WAIT_ACK = "wait_ack"  # a data block sent
    WAIT_EOT_ACK = "wait_eot_ack"
    WAIT_TRAILER = "wait_trailer"  # EOT ACKed: wait for "C" to send the closing block 0
    WAIT_FINAL_ACK = "wait_final_ack"


class YmodemSender(_Machine):
    """Sends one file. Waits for the receiver's "C" (CRC-16) or NAK (8-bit checksum).

    Tolerates the receivers seen in practice: lrzsz ACKs block 0 and then sends "C";
    digi-xbee's `get_file_ymodem` ACKs block 0 twice and sends no "C" (L-PY
    `_read_block_0`), so a second ACK also starts the data. After block 0 the sender also
    starts on its own after `timeout` (XMODEM senders never wait forever).
    """

    def __init__(
        self,
        name: str,
        data: bytes,
        *,
        mtime: int | None = None,
        start_timeout: float = START_INTERVAL * START_RETRIES,
        timeout: float = BLOCK_TIMEOUT,
        retries: int = RETRIES,
    ) -> None:
        super().__init__()
        self.name = name
        self.data = bytes(data)
        self.mtime = mtime
        self.start_timeout = start_timeout
        self.timeout = timeout
        self.retries = retries
        self._state = _TxState.WAIT_START
        self._crc = True
        self._blocks = self._split(self.data)
        self._index = 0  # next data block to send (0-based); seq is index + 1
        self._last = b""
        self._failures = 0
        self._can = 0

    @staticmethod
    def _split(data: bytes) -> list[bytes]:
        """1024-byte chunks; a short last chunk padded to 128 if it fits, else 1024 (L-PY)."""
        chunks = []
        for i in range(0, len(data), BLOCK_1K):
            chunk = data[i : i + BLOCK_1K]
            if len(chunk) < BLOCK_1K:
                chunk = chunk.ljust(BLOCK_128 if len(chunk) <= BLOCK_128 else BLOCK_1K, b"\x1a")
            chunks.append(chunk)
        return chunks

    @property
    def result(self) -> bool:
        """True once the receiver has acknowledged the whole file and the closing block 0."""
        return self.done and self.error is None

    def start(self, now: float) -> bytes:
        """Arm the wait for the receiver's first "C"; a sender speaks only when asked."""
        self._started = True
        self._deadline = now + self.start_timeout
        return b""

    def feed(self, data: bytes, now: float) -> bytes:
        if not self._started:
            self.start(now)
        out = bytearray()
        for byte in data:
            if self.done:
                break  # stray ACKs after the end (digi-xbee ACKs the last block twice)
            out += self._on_byte(byte, now)
        return bytes(out)

    def tick(self, now: float) -> bytes:
        if self.done or self._deadline is None or now < self._deadline:
            return b""
        if self._state is _TxState.WAIT_START:
            return self._fail("the receiver never asked for the file")
        if self._state is _TxState.WAIT_GO:
            return self._send_data(now)  # no "C" came: start anyway
        if self._state is _TxState.WAIT_TRAILER:
            return self._send_final(now)
        if self._state is _TxState.WAIT_FINAL_ACK:
            self._finish()  # the file was delivered with the EOT's ACK
            return b""
        self._failures += 1
        if self._failures >= self.retries:
            return self._fail(f"no ACK after {self._failures} tries ({self._state.value})")
        self._deadline = now + self.timeout
        return self._last

    def _send(self, payload: bytes, now: float, state: _TxState, seq: int = 0) -> bytes:
        self._state = state
        self._last = build_block(seq, payload, crc=self._crc)
        self._deadline = now + self.timeout
        return self._last

    def _send_final(self, now: float) -> bytes:
        out = self._send(block0_payload_empty(), now, _TxState.WAIT_FINAL_ACK)
        self._deadline = now + FINAL_TIMEOUT
        return out

    def _send_data(self, now: float) -> bytes:
        self._failures = 0
        if self._index < len(self._blocks):
            payload = self._blocks[self._index]
            return self._send(payload, now, _TxState.WAIT_ACK, seq=self._index + 1)
        self._state = _TxState.WAIT_EOT_ACK
        self._last = bytes((EOT,))
        self._deadline = now + self.timeout
        return self._last

    def _on_byte(self, byte: int, now: float) -> bytes:
        if byte == CAN:
            self._can += 1
            if self._can >= 2 or self._state is _TxState.WAIT_START:
                return self._fail("cancelled by the receiver", cancel=False)
            return b""
        self._can = 0
        state = self._state
        if state is _TxState.WAIT_START:
            if byte in (CRC_MODE, NAK):
                self._crc = byte == CRC_MODE
                payload = block0_payload(self.name, len(self.data), self.mtime)
                return self._send(payload, now, _TxState.WAIT_ACK0)
            return b""  # e.g. the tail of a prompt
        if state is _TxState.WAIT_GO:
            if byte in (CRC_MODE, NAK, ACK):
                return self._send_data(now)
            return b""
        if state is _TxState.WAIT_TRAILER:
            if byte in (CRC_MODE, NAK):
                return self._send_final(now)
            return b""  # e.g. a second ACK of the EOT
        if byte == ACK:
            self._failures = 0
            if state is _TxState.WAIT_ACK0:
                self._state = _TxState.WAIT_GO
                self._deadline = now + self.timeout
                return b""
            if state is _TxState.WAIT_ACK:
                self._index += 1
                return self._send_data(now)
            if state is _TxState.WAIT_EOT_ACK:
                self._state = _TxState.WAIT_TRAILER
                self._deadline = now + self.timeout
                return b""
            self._finish()  # WAIT_FINAL_ACK
            return b""
        if byte == NAK:
            self._failures += 1
            if self._failures >= self.retries:
                return self._fail(f"NAKed {self._failures} times ({state.value})")
            self._deadline = now + self.timeout
            return self._last
        return b""  # "C" or noise while waiting for an ACK: not an answer


def block0_payload_empty() -> bytes:
    """The all-zero 128-byte block 0 that closes a batch."""
    return bytes(BLOCK_128)
