"""The simulated network: DNS, routes, real sockets and TLS, events, timing (sim.host.network)."""

from __future__ import annotations

import argparse
import queue
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import HttpServer, HttpsServer, Pki, TcpEchoServer, UdpEchoServer
from harness.sim.core.effects import (
    ClientAccepted,
    CloseConnection,
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Event,
    Failure,
    Listen,
    OpenConnection,
    Protocol,
    Reset,
    SendData,
    TlsSettings,
)
from harness.sim.host.netconfig import NetworkConfig, NetworkConfigError, load_config
from harness.sim.host.netflags import add_arguments, config_from_args
from harness.sim.host.network import Network

GOOGLE = "142.250.72.14"
GET = b"GET / HTTP/1.1\r\nHost: google.com\r\nConnection: close\r\n\r\n"


class Events:
    """Collects posted events; `next` waits a bounded time."""

    def __init__(self) -> None:
        self.q: queue.Queue[tuple[float, Event]] = queue.Queue()

    def post(self, event: Event) -> None:
        self.q.put((time.monotonic(), event))

    def next(self, timeout: float = 10.0) -> Event:
        return self.q.get(timeout=timeout)[1]

    def timed(self, timeout: float = 10.0) -> tuple[float, Event]:
        return self.q.get(timeout=timeout)

    def until_closed(self, conn_id: int, timeout: float = 10.0) -> tuple[bytes, Event]:
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(max(0.01, deadline - time.monotonic()))
            if isinstance(ev, DataReceived) and ev.conn_id == conn_id:
                data += ev.data
            elif isinstance(ev, ConnectionClosed | ConnectionFailed) and ev.conn_id == conn_id:
                return data, ev


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https(pki: Pki) -> Iterator[HttpsServer]:
    with HttpsServer(pki) as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[HttpServer]:
    with HttpServer(keep_alive=False) as server:
        yield server


def make(https: HttpsServer, http: HttpServer, **kw: object) -> tuple[Network, Events]:
    cfg = NetworkConfig(
        hosts={"google.com": GOOGLE, "plain.test": "10.0.0.80"},
        routes={f"{GOOGLE}:443": f"127.0.0.1:{https.port}", "10.0.0.80": f"127.0.0.1:{http.port}"},
        loopback_direct=True,  # these tests reach throwaway loopback servers directly
        **kw,  # type: ignore[arg-type]
    )
    events = Events()
    return Network(cfg).start(events.post), events


@pytest.fixture
def net(https: HttpsServer, http: HttpServer) -> Iterator[tuple[Network, Events]]:
    network, events = make(https, http, no_route_timeout=0.2)
    yield network, events
    network.close()


def test_dns_and_routes(net: tuple[Network, Events], https: HttpsServer) -> None:
    network, _ = net
    assert network.resolve("GOOGLE.com.") == GOOGLE  # names are case-insensitive
    assert network.resolve("10.1.2.3") == "10.1.2.3"
    assert network.resolve("nowhere.test") is None
    assert network.route(GOOGLE, 443) == ("127.0.0.1", https.port)
    assert network.route(GOOGLE, 80) is None
    assert network.route("10.0.0.80", 8080)[1] != 8080  # port-less route keeps its target
    assert network.route("127.0.0.1", 9) == ("127.0.0.1", 9)  # loopback_direct asked for


def test_tcp_by_name_routed_to_loopback(net: tuple[Network, Events]) -> None:
    network, events = net
    network.perform(OpenConnection(1, Protocol.TCP, "plain.test", 80))
    network.perform(SendData(1, GET))
    opened = events.next()
    assert isinstance(opened, ConnectionOpened) and opened.remote == ("10.0.0.80", 80)
    data, end = events.until_closed(1)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(HttpServer().body)
    assert isinstance(end, ConnectionClosed) and end.failure is Failure.CLOSED_BY_PEER


def test_dns_failure(net: tuple[Network, Events]) -> None:
    network, events = net
    network.perform(OpenConnection(2, Protocol.TCP, "nowhere.test", 80))
    ev = events.next()
    assert isinstance(ev, ConnectionFailed) and ev.failure is Failure.DNS_FAILED
    assert "nowhere.test" in ev.detail


def test_no_route_fails_after_the_timeout(net: tuple[Network, Events]) -> None:
    network, events = net
    start = time.monotonic()
    network.perform(OpenConnection(3, Protocol.TCP, "10.9.9.9", 80))
    at, ev = events.timed()
    assert isinstance(ev, ConnectionFailed) and ev.failure is Failure.NO_ROUTE
    assert 0.15 <= at - start < 5


def test_refused(net: tuple[Network, Events]) -> None:
    network, events = net
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    network.perform(OpenConnection(4, Protocol.TCP, "127.0.0.1", port))
    ev = events.next()
    assert isinstance(ev, ConnectionFailed) and ev.failure is Failure.REFUSED


def test_tls_with_root_and_with_leaf_as_ca(net: tuple[Network, Events], pki: Pki) -> None:
    network, events = net
    good = TlsSettings(0, pki.read("root_ca"), None, None, "TLSv1.2")
    network.perform(OpenConnection(5, Protocol.TLS, "google.com", 443, tls=good))
    network.perform(SendData(5, GET))
    assert isinstance(events.next(), ConnectionOpened)
    data, _ = events.until_closed(5)
    assert data.startswith(b"HTTP/1.1 200 OK")
    leaf = TlsSettings(0, pki.read("server_cert"), None, None, "TLSv1.2")  # the forum's wgc.crt
    network.perform(OpenConnection(6, Protocol.TLS, "google.com", 443, tls=leaf))
    ev = events.next()
    assert isinstance(ev, ConnectionFailed) and ev.failure is Failure.TLS_AUTH
    assert "certificate verify failed" in ev.detail


def test_tls_config_error_before_connecting(
    net: tuple[Network, Events], pki: Pki, https: HttpsServer
) -> None:
    network, events = net
    before = len(https.handshakes)
    bad = TlsSettings(0, None, pki.read("client_cert"), pki.read("client_key_pkcs8"), "TLSv1.2")
    network.perform(OpenConnection(7, Protocol.TLS, "google.com", 443, tls=bad))
    ev = events.next()
    assert isinstance(ev, ConnectionFailed) and ev.failure is Failure.TLS_CONFIG
    time.sleep(0.1)
    assert len(https.handshakes) == before  # no connection was made


def test_host_close_flushes_queued_data_first(https: HttpsServer, http: HttpServer) -> None:
    with TcpEchoServer() as echo:
        network, events = make(https, http)
        try:
            network.perform(OpenConnection(8, Protocol.TCP, "127.0.0.1", echo.port))
            network.perform(SendData(8, b"x" * 100_000))
            network.perform(CloseConnection(8))
            assert isinstance(events.next(), ConnectionOpened)
            deadline = time.monotonic() + 10
            while len(echo.received) < 100_000 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(echo.received) == 100_000
        finally:
            network.close()


def test_remote_close_and_reset(net: tuple[Network, Events]) -> None:
    network, events = net
    with TcpEchoServer(close_after=3) as echo:
        network.perform(OpenConnection(9, Protocol.TCP, "127.0.0.1", echo.port))
        network.perform(SendData(9, b"abc"))
        assert isinstance(events.next(), ConnectionOpened)
        data, end = events.until_closed(9)
        assert data == b"abc" and end.failure is Failure.CLOSED_BY_PEER


def test_udp_send_and_receive_with_simulated_source(https: HttpsServer, http: HttpServer) -> None:
    with UdpEchoServer() as udp:
        cfg = NetworkConfig(routes={f"10.0.0.53:{udp.port}": f"127.0.0.1:{udp.port}"})
        events = Events()
        with Network(cfg).start(events.post) as network:
            network.perform(OpenConnection(10, Protocol.UDP, "10.0.0.53", udp.port))
            assert isinstance(events.next(), ConnectionOpened)
            network.perform(SendData(10, b"hello udp"))
            ev = events.next()
            assert isinstance(ev, DataReceived) and ev.data == b"hello udp"
            assert ev.source == ("10.0.0.53", udp.port)  # the far end's simulated address


def test_listen_accepts_a_client(net: tuple[Network, Events]) -> None:
    network, events = net
    network.perform(Listen(11, Protocol.TCP, 0x2616))
    assert isinstance(events.next(), ConnectionOpened)
    real = network.listening_address(0x2616)
    assert real is not None
    with socket.create_connection(real, timeout=5) as client:
        acc = events.next()
        assert isinstance(acc, ClientAccepted) and acc.listener_id == 11
        assert acc.conn_id >= 0x10000
        client.sendall(b"to the module")
        ev = events.next()
        assert isinstance(ev, DataReceived) and ev.conn_id == acc.conn_id
        network.perform(SendData(acc.conn_id, b"from the module"))
        client.settimeout(5)
        assert client.recv(64) == b"from the module"


def test_reset_drops_everything_silently(net: tuple[Network, Events]) -> None:
    network, events = net
    with TcpEchoServer() as echo:
        network.perform(OpenConnection(12, Protocol.TCP, "127.0.0.1", echo.port))
        assert isinstance(events.next(), ConnectionOpened)
        network.perform(Reset())
        network.perform(SendData(12, b"lost"))
        with pytest.raises(queue.Empty):
            events.next(timeout=0.3)


def test_latency_and_handshake_time_are_imposed_and_accounted(
    https: HttpsServer, http: HttpServer, pki: Pki
) -> None:
    # The handshake delay is imposed on top of the real connect + handshake only once they
    # fit in the latency; 0.6 s leaves room for a slow handshake on a loaded host.
    network, events = make(https, http, latency=0.6, tls_handshake_time=0.3)
    try:
        start = time.monotonic()
        tls = TlsSettings(0, pki.read("root_ca"), None, None, "TLSv1.2")
        network.perform(OpenConnection(13, Protocol.TLS, "google.com", 443, tls=tls))
        network.perform(SendData(13, GET))
        at, opened = events.timed()
        assert isinstance(opened, ConnectionOpened)
        assert at - start >= 0.9  # one round trip + the handshake time
        first_data_at, first = events.timed()
        assert isinstance(first, DataReceived) and first_data_at >= at  # never before the open
        stats = network.stats()
        assert stats["tls_handshake_delay_s"] == pytest.approx(0.3, abs=0.05)
        assert stats["network_delay_s"] > 0
        assert stats["connections_opened"] == 1
    finally:
        network.close()


# ----- configuration ------------------------------------------------------------------------


def test_config_file(tmp_path: Path) -> None:
    f = tmp_path / "sim.yaml"
    f.write_text(
        "personality: cat1-3100C\n"
        "network:\n"
        "  hosts:\n"
        "    Google.com: 142.250.72.14\n"
        "  routes:\n"
        "    142.250.72.14:443: 127.0.0.1:8443\n"
        "  latency: 0.05\n"
    )
    cfg = load_config(f)
    assert cfg.hosts == {"google.com": GOOGLE}
    assert cfg.route_table() == {(GOOGLE, 443): ("127.0.0.1", 8443)}
    assert cfg.latency == 0.05


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("network:\n  hosts:\n    google.com: 999.1.1.1\n", ":3:", "network.hosts"),
        ("network:\n  routes:\n    1.2.3.4:99999: 127.0.0.1:1\n", ":3:", "network.routes"),
        ("network:\n  latency: -1\n", ":2:", "network.latency"),
        ("network:\n  lattency: 1\n", ":2:", "network.lattency"),
        ("network: [\n", ":", "not valid YAML"),
    ],
)
def test_config_errors_name_file_line_and_key(
    tmp_path: Path, body: str, where: str, what: str
) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(body)
    with pytest.raises(NetworkConfigError) as info:
        load_config(f)
    msg = str(info.value)
    assert msg.startswith(str(f)) and where in msg and what in msg


def test_command_line_options_override_the_file() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--host",
            "google.com=142.250.72.14",
            "--route",
            "142.250.72.14:443=127.0.0.1:9",
            "--latency",
            "0.1",
        ]
    )
    base = NetworkConfig(latency=0.5, hosts={"a.test": "10.0.0.1"})
    cfg = config_from_args(args, base)
    assert cfg.latency == 0.1 and cfg.hosts == {"a.test": "10.0.0.1", "google.com": GOOGLE}
    assert cfg.route_table()[(GOOGLE, 443)] == ("127.0.0.1", 9)


@pytest.mark.parametrize(
    "argv", [["--host", "google.com"], ["--host", "g=1.2.3"], ["--route", "1.2.3.4=nohost"]]
)
def test_bad_command_line_options_are_clear(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    assert argv[0] in capsys.readouterr().err
