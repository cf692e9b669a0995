"""API-mode IP frames (0x20/0x23 → 0x89, 0xB0) and extended sockets (0x40–0x46) against real
servers on loopback (sim.ipframes, sim.sockets; reference §2.6–§2.11)."""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.servers import DEFAULT_BODY, HttpServer, HttpsServer, Pki, UdpEchoServer
from harness.sim.core.effects import Effect, Failure, ToHost
from harness.sim.core.modem import Modem
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.xbee import api, frames

GOOGLE = "142.250.72.14"
PLAIN = "93.184.216.34"
GET = b"GET / HTTP/1.1\r\nHost: google.com\r\nConnection: close\r\n\r\n"


class ApiRig:
    """A Modem in API mode (AP=1) driven in the test thread, with a real Network."""

    def __init__(
        self, persona: str, config: NetworkConfig, flash: FlashFS, *, register: bool = True
    ) -> None:
        self.events: queue.Queue = queue.Queue()
        self.net = Network(config).start(self.events.put)
        self.modem = Modem(persona, ap=1, flash=flash)
        self.deframer = frames.Deframer()
        self.frames: list[Any] = []
        self.t = 0.0
        self.run(self.modem.power_on(0.0))
        if register:
            self.t = 60.0
            self.run(self.modem.tick(self.t))

    def run(self, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, ToHost):
                for raw in self.deframer.feed(e.data):
                    assert isinstance(raw, frames.RawFrame), raw
                    self.frames.append(api.parse(raw.data))
            else:
                self.net.perform(e)

    def send(self, frame: Any) -> None:
        self.run(self.modem.feed(frames.encode(frame.to_bytes()), self.t))

    def of(self, cls: type) -> list[Any]:
        return [f for f in self.frames if isinstance(f, cls)]

    def wait(self, until: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; frames: {[f.to_dict() for f in self.frames]}")
            try:
                self.run(self.modem.handle(self.events.get(timeout=0.02), self.t))
            except queue.Empty:
                pass

    def tx_status(self, frame_id: int) -> int:
        self.wait(lambda: any(f.frame_id == frame_id for f in self.of(api.TXStatus)))
        return next(f.status for f in self.of(api.TXStatus) if f.frame_id == frame_id)

    def payload(self, cls: type = api.RXIPv4) -> bytes:
        return b"".join(f.payload for f in self.of(cls))

    def close(self) -> None:
        self.net.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def servers(pki: Pki) -> Iterator[tuple[HttpsServer, HttpServer]]:
    with HttpsServer(pki, keep_alive=False) as https, HttpServer(keep_alive=False) as http:
        yield https, http


@pytest.fixture
def flash(pki: Pki) -> FlashFS:
    fs = FlashFS()
    fs.write("/flash/cert/wgc.crt", pki.read("server_cert"))
    fs.write("/flash/cert/root.crt", pki.read("root_ca"))
    return fs


def config(servers: tuple[HttpsServer, HttpServer]) -> NetworkConfig:
    https, http = servers
    return NetworkConfig(
        hosts={"google.com": GOOGLE, "example.test": PLAIN},
        routes={
            f"{GOOGLE}:443": f"127.0.0.1:{https.port}",
            f"{PLAIN}:80": f"127.0.0.1:{http.port}",
        },
        loopback_direct=True,  # some tests dial throwaway loopback servers directly
    )


def rig_for(
    persona: str, servers: tuple[HttpsServer, HttpServer], flash: FlashFS, **kw: Any
) -> ApiRig:
    return ApiRig(persona, config(servers), flash, **kw)


@pytest.fixture
def cat1(servers: tuple[HttpsServer, HttpServer], flash: FlashFS) -> Iterator[ApiRig]:
    r = rig_for("cat1-3100C", servers, flash)
    yield r
    r.close()


@pytest.fixture
def ltem(servers: tuple[HttpsServer, HttpServer], flash: FlashFS) -> Iterator[ApiRig]:
    r = rig_for("ltem-11415", servers, flash)
    yield r
    r.close()


def at(rig: ApiRig, command: str, value: bytes) -> None:
    rig.send(api.ATCommand(0x7F, command, value))
    rig.wait(lambda: any(f.frame_id == 0x7F for f in rig.of(api.ATCommandResponse)))
    assert rig.of(api.ATCommandResponse)[-1].status == 0
    rig.frames.clear()


# ----- 0x20 / 0x23 --------------------------------------------------------------------------


def test_0x23_with_root_ca_gets_status_0_and_the_response_as_0xb0(cat1: ApiRig) -> None:
    at(cat1, "$0", b"root.crt;;")
    cat1.send(api.TXRequestTLSProfile(1, GOOGLE, 443, 0, 0, 0, GET))
    assert cat1.tx_status(1) == 0x00  # D-89 success
    cat1.wait(lambda: cat1.payload().endswith(DEFAULT_BODY))
    rx = cat1.of(api.RXIPv4)[0]
    assert (rx.src_addr, rx.src_port, rx.protocol) == (GOOGLE, 443, 4)  # D-B0
    assert rx.dest_port > 0 and cat1.payload().startswith(b"HTTP/1.1 200 OK")


def test_0x20_tls_with_leaf_as_ca_is_the_auth_status(cat1: ApiRig) -> None:
    at(cat1, "$0", b"wgc.crt;;")
    cat1.send(api.TXRequestIPv4(2, GOOGLE, 443, 0, 4, 0, GET))
    assert cat1.tx_status(2) == cat1.modem.personality.code(Failure.TLS_AUTH, "tx_status") == 0x8B


@pytest.mark.parametrize("profile", [b"missing.crt;;", b"flash/cert/wgc.crt;;"])
def test_0x23_missing_file_is_0x86(cat1: ApiRig, profile: bytes) -> None:
    at(cat1, "$1", profile)
    cat1.send(api.TXRequestTLSProfile(3, GOOGLE, 443, 0, 1, 0, GET))
    assert cat1.tx_status(3) == 0x86  # D-89 invalid TLS configuration (missing file)


def test_0x23_profile_out_of_range_is_0x86(cat1: ApiRig) -> None:
    cat1.send(api.TXRequestTLSProfile(4, GOOGLE, 443, 0, 3, 0, GET))
    assert cat1.tx_status(4) == 0x86  # L-PY: "TLS Profile … does not exist"


def test_0x20_tcp_with_close_after_send(
    cat1: ApiRig, servers: tuple[HttpsServer, HttpServer]
) -> None:
    _, http = servers
    before = len(http.requests)
    cat1.send(
        api.TXRequestIPv4(5, PLAIN, 80, 0, 1, 0x02, b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
    )
    assert cat1.tx_status(5) == 0
    deadline = time.monotonic() + 5
    while len(http.requests) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert http.requests[-1].path == "/"
    assert cat1.modem.features["ip_frames"].sockets_in_use() == {}  # closed after the send


def test_second_frame_reuses_the_socket(
    cat1: ApiRig, servers: tuple[HttpsServer, HttpServer]
) -> None:
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        cat1.send(api.TXRequestIPv4(6, "127.0.0.1", port, 0, 1, 0, b"one"))
        lsock.settimeout(5)
        peer, _ = lsock.accept()
        with peer:
            assert cat1.tx_status(6) == 0
            cat1.send(api.TXRequestIPv4(7, "127.0.0.1", port, 0, 1, 0, b"two"))
            assert cat1.tx_status(7) == 0
            peer.settimeout(5)
            got = b""
            while len(got) < 6:
                got += peer.recv(16)
            assert got == b"onetwo"  # one connection for both frames (D-20 source port 0)
            peer.sendall(b"reply")
            cat1.wait(lambda: cat1.payload() == b"reply")
            rx = cat1.of(api.RXIPv4)[0]
            # D-APIBEH: reply by copying 0xB0's ports; the same socket takes it
            cat1.send(api.TXRequestIPv4(8, rx.src_addr, rx.src_port, rx.dest_port, 1, 0, b"three"))
            assert cat1.tx_status(8) == 0
            assert peer.recv(16) == b"three"


@pytest.mark.parametrize(
    ("frame", "status"),
    [
        (api.TXRequestIPv4(9, PLAIN, 80, 0, 1, 0, b"x" * 1501), 0x74),  # D-20: 1500 max
        (api.TXRequestIPv4(9, PLAIN, 53, 0, 0, 0, b"x" * 513), 0x74),  # D-20: UDP 512 max
        (api.TXRequestIPv4(9, PLAIN, 80, 0x1234, 1, 0, b"x"), 0x77),  # D-20: no such socket
        (api.TXRequestIPv4(9, PLAIN, 0, 0, 1, 0, b"x"), 0x79),  # D-89 invalid TCP port
        (api.TXRequestIPv4(9, "0.0.0.0", 80, 0, 1, 0, b"x"), 0x7A),  # D-89 invalid host
        (api.TXRequestIPv4(9, PLAIN, 80, 0, 2, 0, b"x"), 0x2C),  # A-IPF-PROTO
    ],
)
def test_refused_frames(cat1: ApiRig, frame: Any, status: int) -> None:
    cat1.send(frame)
    assert cat1.tx_status(9) == status


def test_not_registered_is_0x22(servers: tuple[HttpsServer, HttpServer], flash: FlashFS) -> None:
    r = rig_for("cat1-3100C", servers, flash, register=False)
    try:
        r.send(api.TXRequestIPv4(1, PLAIN, 80, 0, 1, 0, GET))
        assert r.tx_status(1) == 0x22  # D-89 not registered to cell network
    finally:
        r.close()


def test_refused_connection_status(cat1: ApiRig) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cat1.send(api.TXRequestIPv4(10, "127.0.0.1", port, 0, 1, 0, b"x"))
    assert cat1.tx_status(10) == 0x80  # D-89 connection refused


def test_frame_id_0_gets_no_status(cat1: ApiRig) -> None:
    cat1.send(api.TXRequestIPv4(0, PLAIN, 80, 0, 1, 0, b"x" * 1501))
    time.sleep(0.05)
    assert cat1.of(api.TXStatus) == []


def test_udp_round_trip(servers: tuple[HttpsServer, HttpServer], flash: FlashFS) -> None:
    with UdpEchoServer() as udp:
        cfg = NetworkConfig(routes={f"10.0.0.53:{udp.port}": f"127.0.0.1:{udp.port}"})
        r = ApiRig("cat1-3100C", cfg, flash)
        try:
            r.send(api.TXRequestIPv4(1, "10.0.0.53", udp.port, 0x2616, 0, 0, b"dgram"))
            assert r.tx_status(1) == 0
            r.wait(lambda: r.payload() == b"dgram")
            rx = r.of(api.RXIPv4)[0]
            assert (rx.src_addr, rx.src_port, rx.dest_port, rx.protocol) == (
                "10.0.0.53",
                udp.port,
                0x2616,
                0,
            )
        finally:
            r.close()


# ----- extended sockets ---------------------------------------------------------------------


def test_extended_socket_http_exchange(ltem: ApiRig) -> None:
    ltem.send(api.SocketCreate(1, 1))
    created = ltem.of(api.SocketCreateResponse)[0]
    assert (created.frame_id, created.status) == (1, 0)
    sid = created.socket_id
    ltem.send(api.SocketConnect(2, sid, 80, 1, "example.test"))  # by host name (D-SF p.270)
    assert ltem.of(api.SocketConnectResponse)[0].status == 0
    ltem.wait(lambda: bool(ltem.of(api.SocketStatus)))
    assert ltem.of(api.SocketStatus)[0].status == 0  # connected
    ltem.send(api.SocketSend(3, sid, 0, b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"))
    assert ltem.tx_status(3) == 0
    ltem.wait(lambda: ltem.payload(api.SocketReceive).endswith(DEFAULT_BODY))
    ltem.send(api.SocketClose(4, sid))
    assert ltem.of(api.SocketCloseResponse)[-1].status in (0, 0x20)


def test_extended_tls_socket_with_profile_option(ltem: ApiRig) -> None:
    at(ltem, "$2", b"root.crt;;")
    ltem.send(api.SocketCreate(1, 4))
    sid = ltem.of(api.SocketCreateResponse)[0].socket_id
    ltem.send(api.SocketOption(2, sid, 0, b"\x02"))
    ltem.send(api.SocketOption(3, sid, 0, b""))
    opts = ltem.of(api.SocketOptionResponse)
    assert [o.status for o in opts] == [0, 0] and opts[1].option_data == b"\x02"
    ltem.send(api.SocketConnect(4, sid, 443, 0, GOOGLE))  # binary address
    ltem.wait(lambda: bool(ltem.of(api.SocketStatus)))
    assert ltem.of(api.SocketStatus)[0].status == 0
    ltem.send(api.SocketSend(5, sid, 0, GET))
    ltem.wait(lambda: ltem.payload(api.SocketReceive).endswith(DEFAULT_BODY))


def test_extended_socket_failures(ltem: ApiRig) -> None:
    ltem.send(api.SocketCreate(1, 1))
    sid = ltem.of(api.SocketCreateResponse)[0].socket_id
    ltem.send(api.SocketSend(2, sid, 0, b"x"))
    assert ltem.tx_status(2) == 0x87  # not connected yet
    ltem.send(api.SocketConnect(3, sid, 80, 1, "nowhere.test"))
    ltem.wait(lambda: bool(ltem.of(api.SocketStatus)))
    assert ltem.of(api.SocketStatus)[0].status == 0x01  # D-SF: failed DNS lookup
    ltem.send(api.SocketSend(4, sid, 0, b"x"))
    assert ltem.tx_status(4) == 0x20  # the socket ID is invalid after a fatal 0xCF
    ltem.send(api.SocketCreate(5, 3))
    assert ltem.of(api.SocketCreateResponse)[-1].status == 0x7B  # invalid protocol
    ltem.send(api.SocketOption(6, 0x33, 0, b""))
    assert ltem.of(api.SocketOptionResponse)[-1].status == 0x20


def test_socket_limit_is_0x32(ltem: ApiRig) -> None:
    limit = ltem.modem.personality.sockets.max_total
    for i in range(limit + 1):
        ltem.send(api.SocketCreate(i + 1, 1))
    statuses = [c.status for c in ltem.of(api.SocketCreateResponse)]
    assert statuses == [0] * limit + [0x32]  # D-SOCKLIM
    assert ltem.of(api.SocketCreateResponse)[-1].socket_id == 0xFF


def test_listen_accepts_a_client(ltem: ApiRig) -> None:
    ltem.send(api.SocketCreate(1, 1))
    sid = ltem.of(api.SocketCreateResponse)[0].socket_id
    ltem.send(api.SocketBindListen(2, sid, 0x1234))
    assert ltem.of(api.SocketListenResponse)[0].status == 0
    ltem.wait(lambda: ltem.net.listening_address(0x1234) is not None)
    with socket.create_connection(ltem.net.listening_address(0x1234), timeout=5) as client:
        ltem.wait(lambda: bool(ltem.of(api.SocketNewIPv4Client)))
        new = ltem.of(api.SocketNewIPv4Client)[0]
        assert new.socket_id == sid and new.client_socket_id != sid
        client.sendall(b"hello module")
        ltem.wait(lambda: ltem.payload(api.SocketReceive) == b"hello module")
        ltem.send(api.SocketSend(3, new.client_socket_id, 0, b"hello client"))
        assert ltem.tx_status(3) == 0
        assert client.recv(32) == b"hello client"


def test_cat1_does_not_answer_socket_frames(cat1: ApiRig) -> None:
    """3100C predates x15 (L-C): no extended sockets; the frame is dropped (A-XS-UNSUPPORTED)."""
    cat1.send(api.SocketCreate(1, 1))
    time.sleep(0.05)
    cat1.run(cat1.modem.tick(cat1.t + 1))
    assert cat1.of(api.SocketCreateResponse) == []
