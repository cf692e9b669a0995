"""API-mode incoming connections on C0 (D-SOCKLIM-147 "Enable incoming TCP sockets in API
mode", D-APIBEH "API mode behavior for incoming TCP/UDP"): a peer on loopback connects to the
simulated module's listening port; its data comes out as 0xB0 with the peer as source and C0
as destination port, and a 0x20 that copies those fields answers it (A-IPF-C0-LISTEN).

Over a real pty with the harness's API client; the peers are real loopback sockets."""

from __future__ import annotations

import socket
import time

import pytest

from harness.xbee import api

C0 = 0x2616  # the catalogue default (A-AT-DEFAULTS)
FAST = {"registering_s": 0.05, "loopback_direct": True}


def _listening(sim, port: int = C0):
    """The real loopback address of the module's C0 listener, once it is up."""
    deadline = time.monotonic() + 10
    while True:
        address = sim.server.world.listening_address(port)
        if address is not None:
            return address
        assert time.monotonic() < deadline, "the module never listened on C0"
        time.sleep(0.02)


def _gone(client, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while client.at("SI").value != b"\r":
        assert time.monotonic() < deadline, client.at("SI").value
        time.sleep(0.05)


@pytest.mark.parametrize("sim_pty", [FAST], indirect=True)
def test_tcp_client_on_c0_reaches_the_host_and_gets_the_reply(sim_pty, api_client) -> None:
    client = api_client.client
    with socket.create_connection(_listening(sim_pty), timeout=5) as peer:
        peer.sendall(b"ping")
        rx = client.receive_ip(timeout=5)
        peer_port = peer.getsockname()[1]
        assert (rx.src_addr, rx.src_port, rx.dest_port, rx.protocol, rx.payload) == (
            "127.0.0.1", peer_port, C0, 1, b"ping")  # D-B0
        # D-APIBEH: source address/port and destination port become dest/dest port/source port
        reply = api.TXRequestIPv4(client.next_frame_id(), rx.src_addr, rx.src_port,
                                  rx.dest_port, 1, 0, b"pong")
        assert client.request(reply).frame.status == 0
        assert peer.recv(16) == b"pong"
        assert client.at("SI").value == b"0x00*\r\r"  # an accepted client is a socket
        detail = client.at("SI", b"\x00").value.split(b"\r")
        assert detail[:6] == [b"0x00", b"Connected", b"TCP", b"0x2616",
                              f"0x{peer_port:X}".encode(), b"127.0.0.1"]
    _gone(client)  # "A connection is closed when the remote end closes" (D-APIBEH)


@pytest.mark.parametrize("sim_pty", [FAST], indirect=True)
def test_a_c0_change_moves_the_listener_and_ip_0_takes_udp(sim_pty, api_client) -> None:
    client = api_client.client
    old = _listening(sim_pty)
    client.set("C0", 0x3000)  # 0x08: applied at once
    new = _listening(sim_pty, 0x3000)
    assert sim_pty.server.world.listening_address(C0) is None and new != old
    client.set("IP", 0)  # UDP: datagrams to C0 come out as 0xB0 (D-APIBEH)
    deadline = time.monotonic() + 5
    while sim_pty.server.world.listening_address(0x3000) in (None, new):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        peer.sendto(b"dgram", sim_pty.server.world.listening_address(0x3000))
        rx = client.receive_ip(timeout=5)
        assert (rx.src_port, rx.dest_port, rx.protocol, rx.payload) == (
            peer.getsockname()[1], 0x3000, 0, b"dgram")
        assert client.send_ip(rx.src_addr, rx.src_port, b"back", protocol=0,
                              src_port=0x3000) == 0  # from the C0 socket (D-SOCKLIM-147)
        assert peer.recvfrom(16)[0] == b"back"


@pytest.mark.parametrize("sim_pty", [FAST], indirect=True)
def test_no_listener_for_tls(sim_pty, api_client) -> None:
    client = api_client.client
    _listening(sim_pty)
    client.set("IP", 4)  # "does not currently support the TLS protocol for incoming" (D-APIBEH)
    deadline = time.monotonic() + 5
    while sim_pty.server.world.listening_address(C0) is not None:
        assert time.monotonic() < deadline, "still listening with IP=4"
        time.sleep(0.02)
