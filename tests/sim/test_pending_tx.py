"""Two 0x20 rules of the socket-limit pages, over a real pty with real loopback servers:

- D-SOCKLIM-147: "each socket has a maximum number of pending Transmit (TX) Requests"; past it
  the module answers 0x89 0x32 "Resource Error ... retry again later" (the number is the
  personality's `sockets.pending_tx`, A-IPF-PENDING-TX).
- D-20: a non-zero source port must match a socket, "If there is no matching socket, the TX
  Status frame returns an error"; for UDP that is 0x78 "Invalid UDP port", C0's own socket
  excepted (A-IPF-UDP-SRCPORT).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.device.api import ApiClient
from harness.device.transport import open_device
from harness.servers import UdpEchoServer
from harness.sim.core import personality as personality_mod
from harness.xbee import api

SILENT = "10.1.2.3"  # a server that accepts and never answers: a TLS handshake hangs
C0 = 0x2616


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """Accepts TCP connections and says nothing (keeps them until the test ends)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        lsock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield lsock.getsockname()
    finally:
        stop.set()
        thread.join(2)
        for s in held:
            s.close()
        lsock.close()


def _registered(client: ApiClient) -> None:
    deadline = time.monotonic() + 10
    while client.get("AI") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_past_the_pending_limit_a_tx_request_gets_0x32(start_sim, silent_server) -> None:
    limit = personality_mod.load("ltem-11415").sockets.pending_tx
    assert limit is not None and limit.assumption  # A-IPF-PENDING-TX: a number of our choosing
    n = int(limit.value)
    sim = start_sim("ltem-11415", ap=1, registering_s=0.05,
                    routes={f"{SILENT}:443": "{}:{}".format(*silent_server)})
    with open_device(sim.path) as tap, ApiClient(tap) as client:
        _registered(client)
        for fid in range(1, n + 1):  # a TLS socket still in its handshake: all pending
            client.send(api.TXRequestTLSProfile(fid, SILENT, 443, 0, 0, 0, b"req"))
        over = api.TXRequestTLSProfile(n + 1, SILENT, 443, 0, 0, 0, b"one too many")
        assert client.request(over, timeout=5).frame.status == 0x32  # D-SOCKLIM-147
        assert not any(r.type == 0x89 and r.data[1] <= n for r in client.take_unsolicited())
        assert client.at("SI").value == b"0x00*\r\r"  # one socket holds them


def test_udp_source_port_without_a_socket_is_refused(start_sim) -> None:
    with UdpEchoServer() as udp:
        sim = start_sim("cat1-3100C", ap=1, registering_s=0.05,
                        routes={f"10.0.0.53:{udp.port}": f"127.0.0.1:{udp.port}"})
        with open_device(sim.path) as tap, ApiClient(tap) as client:
            _registered(client)
            assert client.send_ip("10.0.0.53", udp.port, b"x", protocol=0,
                                  src_port=0x1234) == 0x78  # D-89 "Invalid UDP port"
            assert client.send_ip("10.0.0.53", udp.port, b"y", protocol=0,
                                  src_port=C0) == 0  # C0's socket (D-SOCKLIM-147)
            assert client.receive_ip(timeout=5).payload == b"y"
