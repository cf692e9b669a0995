"""0x44 data waits for the network like a real module's (D-SOCKLIM-147, A-XS-PENDING-TX),
over a real pty with a real loopback peer that accepts and does not read.

0x89 for a 0x44 reports "acceptance of the data for transmit" (D-XS): while the peer's TCP
window is closed the data waits in the module; a socket holds at most the personality's
`sockets.pending_tx` such requests, and one more gets 0x89 0x32 "Resource Error"
(D-SOCKLIM-147). When the peer reads again, the waiting data goes out with its 0x89 0x00.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.device.api import ApiClient
from harness.device.errors import DeviceTimeout
from harness.device.transport import open_device
from harness.sim.core import personality as personality_mod
from harness.xbee import api

PEER = "10.1.2.4"
CHUNK = b"x" * 1500  # D-SF p.274: payload ≤ 1500
MAX_FRAMES = 3000  # far more than loopback's buffers hold with a peer that reads nothing
HELD_WAIT_S = 2.0  # a 0x89 that has not come by then is held, not slow


class _StalledPeer:
    """Accepts one TCP client with a small receive buffer and reads nothing until `drain`."""

    def __init__(self) -> None:
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a window soon full
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.conn: socket.socket | None = None
        self.received = 0
        self._accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.conn = self.lsock.accept()[0]
        self._accepted.set()

    def drain(self, want: int, timeout: float = 30) -> int:
        assert self._accepted.wait(timeout) and self.conn is not None
        self.conn.settimeout(0.5)
        deadline = time.monotonic() + timeout
        while self.received < want and time.monotonic() < deadline:
            try:
                data = self.conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            self.received += len(data)
        return self.received

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.lsock.close()


@pytest.fixture
def stalled_peer() -> Iterator[_StalledPeer]:
    peer = _StalledPeer()
    try:
        yield peer
    finally:
        peer.close()


def _registered(client: ApiClient) -> None:
    deadline = time.monotonic() + 10
    while client.get("AI") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_past_the_pending_limit_a_socket_send_gets_0x32(start_sim, stalled_peer) -> None:
    limit = personality_mod.load("ltem-11415").sockets.pending_tx
    assert limit is not None and limit.assumption  # A-IPF-PENDING-TX: a number of our choosing
    n = int(limit.value)
    port = stalled_peer.lsock.getsockname()[1]
    sim = start_sim("ltem-11415", ap=1, registering_s=0.05,
                    routes={f"{PEER}:80": f"127.0.0.1:{port}"})
    with open_device(sim.path) as tap, ApiClient(tap) as client:
        _registered(client)
        sid, status = client.socket_create(0x01)  # TCP
        assert status == 0
        assert client.socket_connect(sid, PEER, 80, timeout=10) == (0, 0)

        fid, accepted = 0, 0
        while True:  # the peer reads nothing: its window closes, then the data waits
            fid = fid % 255 + 1
            assert accepted < MAX_FRAMES, "every 0x44 accepted at once: nothing ever waits"
            try:
                rec = client.request(api.SocketSend(fid, sid, 0, CHUNK), timeout=HELD_WAIT_S)
            except DeviceTimeout:
                break  # this one waits in the module
            assert rec.frame.status == 0
            accepted += 1
        held = [fid]
        for _ in range(n - 1):  # up to the limit, all wait
            fid = fid % 255 + 1
            client.send(api.SocketSend(fid, sid, 0, CHUNK))
            held.append(fid)
        fid = fid % 255 + 1
        over = client.request(api.SocketSend(fid, sid, 0, b"one too many"), timeout=10)
        assert over.frame.status == 0x32  # D-SOCKLIM-147: too many pending TX requests
        assert not [r for r in client.take_unsolicited() if r.type == 0x89]  # none acked yet

        # The peer reads again: what waited goes out, each with its 0x89 0x00, in order.
        want = (accepted + n) * len(CHUNK)
        reader = threading.Thread(target=stalled_peer.drain, args=(want,), daemon=True)
        reader.start()
        acks = [client.wait_for(0x89, timeout=30).frame for _ in held]
        assert [(a.frame_id, a.status) for a in acks] == [(f, 0) for f in held]
        reader.join(35)
        assert stalled_peer.received == want  # the refused frame's data never left


def test_digi_xbee_sendall_times_out_while_data_waits_then_gets_0x32(
    start_sim, stalled_peer
) -> None:
    """digi-xbee 1.5.0's `xsocket.sendall` waits for each 0x89: a held 0x44 is its
    TimeoutException, the one past the limit its XBeeSocketException with status 0x32
    (`send` swallows both and returns None: the caller cannot tell)."""
    from digi.xbee.devices import CellularDevice
    from digi.xbee.exception import TimeoutException, XBeeSocketException
    from digi.xbee.models.protocol import IPProtocol
    from digi.xbee.xsocket import socket as xsocket

    n = int(personality_mod.load("ltem-11415").sockets.pending_tx.value)  # type: ignore[union-attr]
    port = stalled_peer.lsock.getsockname()[1]
    sim = start_sim("ltem-11415", ap=1, registering_s=0.05, uart_pacing=False,
                    routes={f"{PEER}:80": f"127.0.0.1:{port}"})
    dev = CellularDevice(sim.path, 9600)
    dev.open()
    try:
        deadline = time.monotonic() + 10
        while sim.server.call(lambda m: m.ai) != 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        sock = xsocket(dev, IPProtocol.TCP)
        sock.settimeout(HELD_WAIT_S)
        sock.connect((PEER, 80))
        for _ in range(MAX_FRAMES):
            try:
                sock.sendall(CHUNK)
            except TimeoutException:
                break  # the first that waits in the module
        else:
            pytest.fail("every 0x44 accepted at once: nothing ever waits")
        for _ in range(n - 1):
            with pytest.raises(TimeoutException):
                sock.sendall(CHUNK)
        with pytest.raises(XBeeSocketException) as refused:
            sock.sendall(CHUNK)
        assert refused.value.status.code == 0x32  # D-SOCKLIM-147
        assert sock.send(CHUNK) is None  # digi-xbee's send: no count, no error
    finally:
        dev.close()
