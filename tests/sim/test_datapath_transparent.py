"""The transparent (AP=0) data path against real servers on loopback (sim.transparent, §4)."""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.servers import HttpServer, HttpsServer, Pki, TcpEchoServer
from harness.sim.core import personality as personality_mod
from harness.sim.core.effects import (
    ConnectionFailed,
    DataReceived,
    Effect,
    Event,
    Failure,
    OpenConnection,
    SendData,
    ToHost,
)
from harness.sim.core.modem import Modem
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network

GOOGLE = "142.250.72.14"
GET = b"GET / HTTP/1.1\r\nHost: www.google.com\r\nAccept: */*\r\n\r\n"  # F-HTTPS


class Rig:
    """A Modem driven in the test thread (simulated time `t`) with a real Network."""

    def __init__(
        self, persona: str | personality_mod.Personality, config: NetworkConfig, flash: FlashFS
    ) -> None:
        self.events: queue.Queue = queue.Queue()
        self.net = Network(config).start(self.events.put)
        self.modem = Modem(persona, flash=flash)
        self.t = 0.0
        self.out = bytearray()
        self.effects: list[Effect] = []
        self.handled: list[Event] = []  # network events given to the Modem, in order
        self.run(self.modem.power_on(0.0))
        self.advance(60.0)  # past registration (AI 0x00)
        assert self.modem.registered

    def run(self, effects: list[Effect]) -> None:
        for e in effects:
            self.effects.append(e)
            if isinstance(e, ToHost):
                self.out += e.data
            else:
                self.net.perform(e)

    def advance(self, dt: float) -> None:
        self.t += dt
        self.run(self.modem.tick(self.t))

    def feed(self, data: bytes) -> None:
        self.run(self.modem.feed(data, self.t))

    def pump(self, until: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; UART so far: {bytes(self.out)[-200:]!r}")
            try:
                ev = self.events.get(timeout=0.02)
            except queue.Empty:
                continue
            self.handled.append(ev)
            self.run(self.modem.handle(ev, self.t))

    def attempt_over(self) -> bool:
        """The connection attempt has ended: CI left 0xFF ("no status yet", D-CI)."""
        return self.modem.param("CI") != 0xFF

    def received(self) -> bytes:
        """Network data the Modem has been handed so far (whether or not it went out)."""
        return b"".join(e.data for e in self.handled if isinstance(e, DataReceived))

    def at(self, *commands: str) -> str:
        """Enter command mode with guard times, run commands, leave with CN; the replies."""
        self.advance(1.1)
        self.feed(b"+++")
        self.advance(1.1)
        start = len(self.out)
        for cmd in (*commands, "ATCN"):
            self.feed(cmd.encode() + b"\r")
        return bytes(self.out[start:]).decode()

    def ci(self) -> int:
        reply = self.at("ATCI").split("\r")
        return int(reply[0], 16)

    def send_data(self, data: bytes) -> None:
        """Serial data, then the RO silence that sends it (D-RO)."""
        self.advance(1.1)
        self.out.clear()
        self.feed(data)
        self.advance(0.05)

    def close(self) -> None:
        self.net.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https(pki: Pki) -> Iterator[HttpsServer]:
    with HttpsServer(pki) as server:
        yield server


@pytest.fixture
def flash(pki: Pki) -> FlashFS:
    fs = FlashFS()
    fs.write("/flash/cert/wgc.crt", pki.read("server_cert"))  # the forum's leaf
    fs.write("/flash/cert/root.crt", pki.read("root_ca"))
    fs.write("/flash/cert/client.crt", pki.read("client_cert"))
    fs.write("/flash/cert/client.key", pki.read("client_key"), secure=True)
    return fs


def network(https: HttpsServer, **kw: object) -> NetworkConfig:
    return NetworkConfig(
        hosts={"google.com": GOOGLE, "www.google.com": GOOGLE},
        routes={f"{GOOGLE}:443": f"127.0.0.1:{https.port}"},
        loopback_direct=True,  # some tests dial throwaway loopback servers (ATDL127.0.0.1)
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def rig(https: HttpsServer, flash: FlashFS) -> Iterator[Rig]:
    r = Rig("cat1-3100C", network(https, no_route_timeout=0.3), flash)
    yield r
    r.close()


def forum_setup(rig: Rig, profile: str) -> None:
    reply = rig.at("ATIP4", "ATDLgoogle.com", "ATDE1BB", f"AT$0{profile}", "ATTL3")
    assert reply.count("OK") == 6, reply


def test_ci_is_ff_before_any_data_and_0_once_open(rig: Rig) -> None:
    forum_setup(rig, "root.crt;;")
    assert rig.ci() == 0xFF  # D-CI / §8: no known status before any connection
    rig.send_data(GET)
    rig.pump(lambda: rig.out.endswith(HttpServer().body))
    assert rig.out.startswith(b"HTTP/1.1 200 OK")  # D-TRANSP: received data out the UART
    assert rig.ci() == 0x00
    assert rig.at("ATOD").split("\r")[0] == GOOGLE  # D-OD: the destination in use


@pytest.mark.parametrize(
    ("profile", "failure"),
    [
        ("wgc.crt;;", Failure.TLS_AUTH),  # F-HTTPS: the leaf as CA
        ("flash/cert/wgc.crt;;", Failure.TLS_CONFIG),  # no leading slash: not found
        ("missing.crt;;", Failure.TLS_CONFIG),
    ],
)
def test_forum_failures_give_no_response_and_the_personality_ci(
    rig: Rig, profile: str, failure: Failure
) -> None:
    forum_setup(rig, profile)
    rig.send_data(GET)
    rig.pump(rig.attempt_over)  # the handshake's outcome, however long a loaded host takes
    assert rig.out == b""  # "I got no response"
    assert rig.ci() == rig.modem.personality.code(failure, "ci") == 0x26  # F-HTTPS on 3100C


@pytest.mark.parametrize(("leaves_ci", "ci"), [(True, 0xFF), (False, 0x2F)], ids=["ff", "2f"])
def test_ltem_auth_error_leaves_ci_or_reports_2f(
    https: HttpsServer, flash: FlashFS, tmp_path: Path, leaves_ci: bool, ci: int
) -> None:
    """Default (A-CI-TLS-FF, F-HTTPS reply 1): no code is written, CI stays 0xFF; with the
    quirk off, D-CI's TLS Socket Authentication Error 0x2F."""
    source = personality_mod.load("ltem-11415").path.read_text(encoding="utf-8")
    mark = "transparent_tls_failure_leaves_ci: {value: true"
    assert mark in source
    persona = tmp_path / "ltem-11415.yaml"
    persona.write_text(source.replace(mark, mark.replace("true", str(leaves_ci).lower())))
    r = Rig(str(persona), network(https), flash)
    try:
        forum_setup(r, "wgc.crt;;")
        r.send_data(GET)
        r.pump(lambda: any(isinstance(e, ConnectionFailed) for e in r.handled))
        assert r.out == b"" and r.ci() == ci
    finally:
        r.close()


@pytest.mark.parametrize(
    ("dl", "failure"),
    [("nowhere.test", Failure.DNS_FAILED), ("10.9.9.9", Failure.NO_ROUTE)],
)
def test_dns_and_no_route_ci(rig: Rig, dl: str, failure: Failure) -> None:
    rig.at("ATIP1", f"ATDL{dl}", "ATDE50")
    rig.send_data(b"hello")
    code = rig.modem.personality.code(failure, "ci")
    rig.pump(rig.attempt_over)
    assert rig.ci() == code


def test_ro_packetizes_by_character_times(rig: Rig, https: HttpsServer) -> None:
    forum_setup(rig, "root.crt;;")
    rig.at("ATRO3")  # 3 character times at 9600 baud ≈ 3.1 ms (D-RO)
    rig.advance(1.1)
    rig.effects.clear()
    rig.feed(b"GET / HTTP/1.1\r\n")
    rig.t += 0.002
    rig.feed(b"Host: google.com\r\n\r\n")
    assert not [e for e in rig.effects if isinstance(e, OpenConnection)]
    rig.advance(0.0025)  # 2.5 ms after the last byte: still inside RO
    assert not [e for e in rig.effects if isinstance(e, OpenConnection)]
    rig.advance(0.001)
    opened = [e for e in rig.effects if isinstance(e, OpenConnection)]
    assert len(opened) == 1 and opened[0].host == "google.com" and opened[0].port == 443
    assert opened[0].tls is not None and opened[0].tls.version == "TLSv1.2"  # TL=3 (F-AZ)
    rig.pump(lambda: any(isinstance(e, SendData) for e in rig.effects))
    sent = [e for e in rig.effects if isinstance(e, SendData)]
    assert [s.data for s in sent] == [b"GET / HTTP/1.1\r\nHost: google.com\r\n\r\n"]


def test_nothing_forwarded_in_command_mode(rig: Rig) -> None:
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        rig.at("ATIP1", "ATDL127.0.0.1", f"ATDE{port:X}")
        rig.send_data(b"hi")
        lsock.settimeout(5)
        peer, _ = lsock.accept()
        with peer:
            peer.settimeout(5)
            rig.pump(lambda: rig.modem.param("CI") == 0)
            assert peer.recv(16) == b"hi"
            rig.advance(1.1)
            rig.feed(b"+++")
            rig.advance(1.1)  # in command mode now
            rig.out.clear()
            peer.sendall(b"while-in-command-mode")
            rig.pump(lambda: rig.received().endswith(b"while-in-command-mode"))
            assert b"while-in-command-mode" not in rig.out  # D-ENTER
            rig.feed(b"ATCN\r")
            assert rig.out.endswith(b"while-in-command-mode")


def test_closes_on_remote_close_and_reopens_on_next_data(rig: Rig) -> None:
    with TcpEchoServer(close_after=4) as echo:
        rig.at("ATIP1", "ATDL127.0.0.1", f"ATDE{echo.port:X}")
        rig.send_data(b"ping")
        rig.pump(lambda: rig.out == b"ping")
        rig.pump(lambda: rig.modem.param("OD") == "0.0.0.0")  # closed by the far end
        assert rig.ci() == rig.modem.personality.code(Failure.CLOSED_BY_PEER, "ci")
        rig.send_data(b"pong")
        rig.pump(lambda: rig.out == b"pong")
        assert echo.connections == 2


def listener() -> socket.socket:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(2)
    lsock.settimeout(5)
    return lsock


def assert_eof(peer: socket.socket) -> None:
    """The module closed the connection: after what it sent, the far end reads EOF."""
    peer.settimeout(5)
    assert peer.recv(16) == b"x"
    assert peer.recv(16) == b""


def test_tm_inactivity_closes(rig: Rig) -> None:
    with listener() as lsock:
        rig.at("ATIP1", "ATDL127.0.0.1", f"ATDE{lsock.getsockname()[1]:X}", "ATTM5")  # 0.5 s
        rig.send_data(b"x")
        peer, _ = lsock.accept()
        with peer:
            rig.pump(lambda: rig.modem.param("OD") == "127.0.0.1")
            rig.advance(0.4)
            assert rig.modem.param("OD") == "127.0.0.1"
            rig.advance(0.2)  # TM of silence (D-TRANSP)
            assert rig.modem.param("OD") == "0.0.0.0"
            assert rig.modem.param("CI") == rig.modem.personality.code(Failure.INACTIVITY, "ci")
            assert_eof(peer)


@pytest.mark.parametrize("commands", [("ATDE1",), ("ATTM" + "BB8",), ("ATIP0",)])
def test_applied_changes_close(rig: Rig, commands: tuple[str, ...]) -> None:
    with listener() as lsock:
        rig.at("ATIP1", "ATDL127.0.0.1", f"ATDE{lsock.getsockname()[1]:X}")
        rig.send_data(b"x")
        peer, _ = lsock.accept()
        with peer:
            rig.pump(lambda: rig.modem.param("OD") == "127.0.0.1")
            rig.at(*commands)  # DE/IP changed, or TM written with its old value (L-TG)
            assert rig.modem.param("OD") == "0.0.0.0"
            assert_eof(peer)


def test_unchanged_dl_write_keeps_the_connection(rig: Rig) -> None:
    with listener() as lsock:
        rig.at("ATIP1", "ATDL127.0.0.1", f"ATDE{lsock.getsockname()[1]:X}")
        rig.send_data(b"x")
        peer, _ = lsock.accept()
        with peer:
            rig.pump(lambda: rig.modem.param("OD") == "127.0.0.1")
            rig.at("ATDL127.0.0.1")
            assert rig.modem.param("OD") == "127.0.0.1"


def quirky() -> personality_mod.Personality:
    base = personality_mod.load("cat1-3100C")
    text = Path(base.path).read_text(encoding="utf-8")
    flag = "transparent_tls_requires_client_cert: {value: false"
    assert flag in text
    return personality_mod.loads(text.replace(flag, flag.replace("false", "true")), base.path)


def test_forum_quirk_makes_transparent_tls_need_a_client_cert(
    https: HttpsServer, flash: FlashFS
) -> None:
    r = Rig(quirky(), network(https), flash)
    try:
        forum_setup(r, "root.crt;;")
        r.send_data(GET)
        r.pump(r.attempt_over)
        assert r.out == b"" and r.ci() == r.modem.personality.code(Failure.TLS_CONFIG, "ci")
        r.at("AT$0root.crt;client.crt;client.key")
        r.send_data(GET)
        r.pump(lambda: r.out.endswith(HttpServer().body))
        assert r.ci() == 0
    finally:
        r.close()
