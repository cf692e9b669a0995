"""Acceptance: the forum thread (F-HTTPS) reproduced over a real pty, against real TLS servers.

The simulated XBee3 Cat 1 (firmware 3100C) runs behind `SimServer` on a pseudo-terminal; a
pyserial client (transparent mode) or digi-xbee (API mode) drives it; "google.com" is a
local HTTPS server whose chain mimics Google's (root → intermediate → leaf), reached through
the simulated network's DNS and routes. Failures happen for the module's reasons: a real
handshake fails because a non-self-signed leaf is no trust anchor (D-TLS p.100).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import serial
from digi.xbee.devices import CellularDevice
from digi.xbee.exception import TimeoutException
from digi.xbee.models.protocol import IPProtocol
from digi.xbee.packets.base import XBeeAPIPacket
from digi.xbee.packets.raw import TXStatusPacket
from digi.xbee.xsocket import socket as xsocket

from harness.servers import (
    DEFAULT_BODY,
    HttpServer,
    HttpsServer,
    OpenSslServer,
    Pki,
    skip_unless_openssl,
)
from harness.sim.core.effects import Failure
from harness.sim.core.modem import Modem
from harness.sim.host import server as serve
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network

SCALE = 0.05  # simulated time runs 20x faster: GT 1 s → 50 ms, registration 8 s → 0.4 s
GT_REAL = 1.0 * SCALE
GOOGLE = "142.250.72.14"
EXAMPLE = "93.184.216.34"
# How long "no response" is watched for: a local handshake fails in milliseconds.
NO_RESPONSE_WAIT = 0.6
GET = b"GET / HTTP/1.1\r\nHost: www.google.com\r\nAccept: */*\r\n\r\n"  # F-HTTPS, CRLF CRLF


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def google(pki: Pki) -> Iterator[HttpsServer]:
    with HttpsServer(pki) as server:
        yield server


def flash_with_certs(pki: Pki) -> FlashFS:
    """What the forum user uploaded with XCTU's file manager, plus the other variants."""
    fs = FlashFS()
    fs.write("/flash/cert/wgc.crt", pki.read("server_cert"))  # google.com's own certificate
    fs.write("/flash/cert/root.crt", pki.read("root_ca"))  # "the top of its certification path"
    fs.write("/flash/cert/client.crt", pki.read("client_cert"))
    fs.write("/flash/cert/client.key", pki.read("client_key"), secure=True)  # ATFS XPUT
    return fs


@contextmanager
def simulator(
    pki: Pki, target: tuple[str, int], *, persona: str = "cat1-3100C", ap: int = 0
) -> Iterator[tuple[serve.SimServer, str]]:
    config = NetworkConfig(
        hosts={"google.com": GOOGLE, "www.google.com": GOOGLE, "example.test": EXAMPLE},
        routes={
            f"{GOOGLE}:443": f"{target[0]}:{target[1]}",
            f"{EXAMPLE}:80": f"{target[0]}:{target[1]}",
        },
    )
    # CT 100 s simulated = 5 s real (the default 10 s would be 0.5 s at this scale): the
    # terminal acts in real time, and a stall between two commands must not end command mode
    modem = Modem(persona, ap=ap, flash=flash_with_certs(pki), nvm={"CT": 0x3E8})
    server = serve.SimServer(modem, Network(config), time_scale=SCALE)
    try:
        path = server.start_pty()
        yield server, path
    finally:
        server.stop()


# ----- a terminal in transparent mode -------------------------------------------------------


class Terminal:
    """What the forum user did in XCTU's console: command mode and raw serial data."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 9600, timeout=0.05)

    def read_until(self, want: bytes, timeout: float = 5.0) -> bytes:
        got = bytearray()
        end = time.monotonic() + timeout
        while want not in got and time.monotonic() < end:
            got += self.port.read(self.port.in_waiting or 1)
        return bytes(got)

    def read_for(self, seconds: float) -> bytes:
        got = bytearray()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            got += self.port.read(self.port.in_waiting or 1)
        return bytes(got)

    def at(self, *commands: str) -> list[str]:
        """+++ with guard times (D-ENTER), the commands, ATCN; the reply lines."""
        time.sleep(GT_REAL * 1.5)
        self.port.reset_input_buffer()
        self.port.write(b"+++")
        assert self.read_until(b"OK\r").endswith(b"OK\r"), "no OK after +++"
        replies = []
        for cmd in (*commands, "ATCN"):
            self.port.write(cmd.encode() + b"\r")
            replies.append(self.read_until(b"\r").decode().strip())
        return replies

    def wait_registered(self) -> None:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.at("ATAI")[0] == "0":
                return
            time.sleep(0.05)
        raise AssertionError("the simulated module did not register")

    def ci(self) -> int:
        return int(self.at("ATCI")[0], 16)

    def close(self) -> None:
        self.port.close()


@contextmanager
def terminal(path: str) -> Iterator[Terminal]:
    term = Terminal(path)
    try:
        term.wait_registered()
        yield term
    finally:
        term.close()


def configure_forum(term: Terminal, profile: str, *, host: str = "google.com") -> None:
    """F-HTTPS steps 3-6: IP=TLS, TL=TLS 1.2, $0, DE=1BB (and DL=google.com)."""
    replies = term.at("ATIP4", f"ATDL{host}", "ATDE1BB", "ATTL3", f"AT$0{profile}", "ATTM64")
    assert replies == ["OK"] * 7, replies


def http_get(term: Terminal, *, wait: float = 5.0, until: bytes = DEFAULT_BODY) -> bytes:
    time.sleep(GT_REAL * 1.5)
    term.port.reset_input_buffer()
    term.port.write(GET)
    return term.read_until(until, timeout=wait)


def attempt_over(modem: Modem) -> bool:
    """No transparent connection attempt buffered or in flight (sim.transparent's state)."""
    feature = modem.features["transparent"]
    return not feature.sockets_in_use() and feature.next_deadline() is None


def failing_get(server: serve.SimServer, term: Terminal, *, until: bytes = DEFAULT_BODY) -> bytes:
    """A GET whose connection must fail: what came back by the time the module has taken
    the request and its attempt has ended. The handshake is real, so on a loaded host its
    end is waited for (bounded), not guessed with a fixed time."""
    fed = server.stats()["bytes_to_module"]
    got = bytearray(http_get(term, wait=NO_RESPONSE_WAIT, until=until))
    end = time.monotonic() + 15
    while not (
        server.stats()["bytes_to_module"] >= fed + len(GET) and server.call(attempt_over)
    ):
        assert time.monotonic() < end, f"the connection attempt did not end; got {bytes(got)!r}"
        got += term.port.read(term.port.in_waiting or 1)
    return bytes(got + term.port.read(term.port.in_waiting))


def test_forum_thread_transparent_mode(pki: Pki, google: HttpsServer) -> None:
    with simulator(pki, google.address) as (server, path), terminal(path) as term:
        assert term.ci() == 0xFF  # §8: no known status before any connection
        # The forum: $0 = the leaf google.com presents, as if it were the CA.
        configure_forum(term, "wgc.crt;;")
        assert failing_get(server, term) == b""  # "I got no response"
        assert term.ci() == 0x26  # "it had a code of 0x26" (F-HTTPS)
        seen = google.wait_for_handshakes(1)[-1]
        assert not seen.ok and seen.sni is None  # a real handshake, refused by the client
        # The answer that worked: the root at the top of the chain.
        configure_forum(term, "root.crt;;")
        response = http_get(term)
        assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(DEFAULT_BODY)
        assert term.ci() == 0x00
        # The other path the user tried: no leading slash → /flash/cert/flash/cert/wgc.crt.
        configure_forum(term, "flash/cert/wgc.crt;;")  # ATTM also closes the open connection
        assert failing_get(server, term) == b""
        assert term.ci() == 0x26  # on 3100C a missing file is 0x26 too (personality row)


class TXTLSProfilePacket(XBeeAPIPacket):
    """0x23, which digi-xbee 1.5.0 lacks (digi-xbee-notes §2d)."""

    def __init__(self, frame_id: int, dest: str, dport: int, profile: int, data: bytes) -> None:
        super().__init__(0x23)
        self._frame_id = frame_id
        octets = bytes(int(x) for x in dest.split("."))
        self._data = octets + dport.to_bytes(2, "big") + b"\0\0" + bytes((profile, 0)) + data

    def needs_id(self) -> bool:
        return True

    def _get_api_packet_spec_data(self) -> bytearray:
        return bytearray(self._data)

    def _get_api_packet_spec_data_dict(self) -> dict:
        return {}


@contextmanager
def xbee(path: str) -> Iterator[CellularDevice]:
    dev = CellularDevice(path, 9600)
    dev.open()
    dev.set_sync_ops_timeout(10)  # a bound for a loaded host, not a timing check (default 4 s)
    try:
        end = time.monotonic() + 10
        while not dev.is_connected() and time.monotonic() < end:
            time.sleep(0.05)
        assert dev.is_connected()
        yield dev
    finally:
        dev.close()


def test_forum_thread_api_mode_0x23_with_root_ca(pki: Pki, google: HttpsServer) -> None:
    """The reply that worked: API mode, 0x23, the top of the chain as CA (F-HTTPS)."""
    with simulator(pki, google.address, ap=1) as (_, path), xbee(path) as dev:
        dev.set_parameter("$0", b"root.crt;;")
        status = dev.send_packet_sync_and_get_response(
            TXTLSProfilePacket(dev.get_next_frame_id(), GOOGLE, 443, 0, GET + b"")
        )
        assert isinstance(status, TXStatusPacket) and status.transmit_status.code == 0x00
        body = b""
        end = time.monotonic() + 15
        while not body.endswith(DEFAULT_BODY) and time.monotonic() < end:
            msg = dev.read_ip_data(timeout=1)
            if msg is not None:
                assert str(msg.ip_addr) == GOOGLE and msg.protocol == IPProtocol.TCP_SSL
                body += bytes(msg.data)
        assert body.startswith(b"HTTP/1.1 200 OK") and body.endswith(DEFAULT_BODY)
        # The leaf as CA in API mode: 0x8B, "TLS Socket Authentication Error" (D-89).
        dev.set_parameter("$1", b"wgc.crt;;")
        status = dev.send_packet_sync_and_get_response(
            TXTLSProfilePacket(dev.get_next_frame_id(), GOOGLE, 443, 1, GET)
        )
        assert status.transmit_status.code == 0x8B
        # No leading slash: the file is not found; the status says so (0x86, D-89).
        dev.set_parameter("$2", b"flash/cert/wgc.crt;;")
        status = dev.send_packet_sync_and_get_response(
            TXTLSProfilePacket(dev.get_next_frame_id(), GOOGLE, 443, 2, GET)
        )
        assert status.transmit_status.code == 0x86


def test_mutual_tls_needs_the_client_cert_and_key(pki: Pki) -> None:
    with (
        HttpsServer(pki, mutual=True) as mtls,
        simulator(pki, mtls.address) as (server, path),
        terminal(path) as term,
    ):
        code = server.modem.personality.code(Failure.TLS_HANDSHAKE, "ci")
        configure_forum(term, "root.crt;;")
        assert failing_get(server, term) == b""
        assert term.ci() == code
        configure_forum(term, "root.crt;client.crt;client.key")
        assert http_get(term).startswith(b"HTTP/1.1 200 OK")
        assert term.ci() == 0
        assert "xbee3-sim-device" in (mtls.handshakes[-1].client_subject or "")


@pytest.mark.parametrize("mutual", [False, True], ids=["server-auth", "mutual"])
def test_same_answers_against_openssl_s_server(pki: Pki, mutual: bool) -> None:
    skip_unless_openssl()
    with (
        OpenSslServer(pki, mutual=mutual) as ossl,
        simulator(pki, ossl.address) as (server, path),
        terminal(path) as term,
    ):
        configure_forum(term, "wgc.crt;;")
        assert failing_get(server, term, until=b"s_server") == b""
        assert term.ci() == 0x26
        if mutual:
            configure_forum(term, "root.crt;;")
            assert failing_get(server, term, until=b"s_server") == b""
            assert term.ci() == 0x26
            configure_forum(term, "root.crt;client.crt;client.key")
        else:
            configure_forum(term, "root.crt;;")
        response = http_get(term, until=b"s_server")
        assert response.startswith(b"HTTP/1.0 200 ok") and b"s_server" in response


def test_extended_socket_exchange_on_ltem_and_not_on_cat1(pki: Pki) -> None:
    with HttpServer() as http:
        with (
            simulator(pki, http.address, persona="ltem-11415", ap=1) as (_, path),
            xbee(path) as dev,
        ):
            sock = xsocket(dev, IPProtocol.TCP)
            try:
                sock.connect(("example.test", 80))  # 0x40, 0x42 by name, 0xC2, 0xCF
                sock.sendall(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")  # keep-alive
                data = b""
                end = time.monotonic() + 15
                while not data.endswith(DEFAULT_BODY) and time.monotonic() < end:
                    data += sock.recv(4096)
                assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(DEFAULT_BODY)
            finally:
                sock.close()
        with simulator(pki, http.address, ap=1) as (_, path), xbee(path) as dev:
            sock = xsocket(dev, IPProtocol.TCP)
            sock.settimeout(1)
            with pytest.raises(TimeoutException):  # 3100C has no socket frames (L-C: x15+)
                sock.connect(("example.test", 80))
