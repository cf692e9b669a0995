"""Issue 10, defect 2: the simulator delivers every byte a reading host asks for, at any size.

On the fast timing (no UART pacing) host-bound output went to a queue that kept only the
newest 64 KB even while the host read, so a response over ~64 KB lost its status line,
headers and frames. Now a port that is read is never dropped from: the server holds the
network back (A-SIM-BACKPRESSURE). Each case is a real HTTP GET through a real SimServer on a
real pty, to the real local HTTP server of `harness.servers` over a routed loopback socket,
read by a host that checks every byte of the body: in API and transparent mode, 1 byte to
4 MB on the fast timing, and small sizes on the paced timing at BD 921600.
"""

from __future__ import annotations

import os
import random
import select
import time
from collections.abc import Iterator

import pytest

from harness.servers import HttpServer
from harness.sim.core.modem import Modem
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer
from harness.xbee import api, frames

SERVER_IP = "203.0.113.10"  # TEST-NET-3, routed to the local server only
GET = f"GET / HTTP/1.1\r\nHost: {SERVER_IP}\r\n\r\n".encode()
SCALE = 0.01  # registration (8 s of module time) in 80 ms
BD_921600 = 0xA
PERSONALITY = "ltem-11415"  # firmware x15: BD up to 921600 (D-BD); *13 stops at 230400

# (timing, size): the paced timing sends at BD in real time, so its sizes stay small.
FAST = [1, 1500, 65_537, 100_000, 1_000_000, 4 * 1024 * 1024]
PACED = [1, 1500, 70_000]
CASES = [("fast", n) for n in FAST] + [("paced", n) for n in PACED]


@pytest.fixture
def body_server(request: pytest.FixtureRequest) -> Iterator[HttpServer]:
    size = request.param
    with HttpServer(body=random.Random(size).randbytes(size)) as server:
        yield server


def reader(fd: int, deadline: float) -> Iterator[bytes]:
    """What the host reads from the pty, as it comes, until the deadline."""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            yield os.read(fd, 65536)
    raise AssertionError("the response did not arrive in time")


def complete(response: bytes) -> int | None:
    """The length of a complete HTTP response at the start of `response`, else None."""
    head, sep, _ = response.partition(b"\r\n\r\n")
    if not sep:
        return None
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    total = len(head) + len(sep) + length
    return total if len(response) >= total else None


def start(ap: int, server: HttpServer, paced: bool) -> tuple[SimServer, int]:
    nvm: dict = {"BD": BD_921600} if paced else {}
    if ap == 0:
        nvm.update({"IP": 1, "DL": SERVER_IP, "DE": 80})
    modem = Modem(PERSONALITY, ap=ap, nvm=nvm or None)
    routes = {f"{SERVER_IP}:80": f"{server.host}:{server.port}"}
    sim = SimServer(modem, Network(NetworkConfig(routes=routes)), time_scale=SCALE,
                    uart_pacing=paced)
    path = sim.start_pty()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    deadline = time.monotonic() + 10
    while not sim.call(lambda m: m.registered):
        assert time.monotonic() < deadline, "the simulated module did not register"
        time.sleep(0.01)
    assert sim.wait_output_drained()
    while select.select([fd], [], [], 0.05)[0]:  # the power-up and registration output
        os.read(fd, 65536)
    return sim, fd


def timeout_for(size: int, paced: bool) -> float:
    return 30.0 + (size * 10 / 921600 if paced else size / 200_000)


@pytest.mark.parametrize(("timing", "body_server"), CASES, indirect=["body_server"])
def test_transparent_mode_delivers_every_byte(timing: str, body_server: HttpServer):
    paced = timing == "paced"
    sim, fd = start(0, body_server, paced)
    try:
        os.write(fd, GET)  # sent after RO of silence (D-RO), to DL:DE
        got = bytearray()
        for chunk in reader(fd, time.monotonic() + timeout_for(len(body_server.body), paced)):
            got += chunk
            if (total := complete(bytes(got))) is not None:
                break
        assert got.startswith(b"HTTP/1.1 200 OK\r\n")
        assert bytes(got[total - len(body_server.body):total]) == body_server.body
        assert sim.error is None
    finally:
        os.close(fd)
        sim.stop()


@pytest.mark.parametrize(("timing", "body_server"), CASES, indirect=["body_server"])
def test_api_mode_delivers_every_byte(timing: str, body_server: HttpServer):
    paced = timing == "paced"
    sim, fd = start(1, body_server, paced)
    try:
        os.write(fd, api.encode(api.TXRequestIPv4(1, SERVER_IP, 80, 0, 1, 0, GET)))
        deframer = frames.Deframer()
        got = bytearray()
        statuses = []
        for chunk in reader(fd, time.monotonic() + timeout_for(len(body_server.body), paced)):
            for item in deframer.feed(chunk):
                assert isinstance(item, frames.RawFrame), f"a broken frame: {item}"
                frame = api.parse(item.data)
                if isinstance(frame, api.RXIPv4):
                    got += frame.payload
                elif isinstance(frame, api.TXStatus):
                    statuses.append(frame.status)
            if (total := complete(bytes(got))) is not None:
                break
        assert statuses == [0], "the 0x89 TX status is missing or failed"
        assert got.startswith(b"HTTP/1.1 200 OK\r\n")
        assert bytes(got[total - len(body_server.body):total]) == body_server.body
        assert sim.error is None
    finally:
        os.close(fd)
        sim.stop()


@pytest.mark.parametrize("body_server", [1_000_000], indirect=True)
def test_a_host_that_pauses_reading_still_gets_every_byte(body_server: HttpServer):
    """The host stops reading for a second mid-response: the server holds the network
    (its queue stays near the high-water mark) and nothing is lost."""
    from harness.sim.host import ports

    sim, fd = start(1, body_server, paced=False)
    try:
        os.write(fd, api.encode(api.TXRequestIPv4(1, SERVER_IP, 80, 0, 1, 0, GET)))
        time.sleep(1.0)  # not reading: well under UNREAD_AFTER
        from harness.sim.host import network

        backlog = sim.call(lambda m: max(len(s.out) for s in sim._sinks))
        assert backlog <= ports.HIGH_WATER + network.READ_BURST, "the network was not held"
        assert sim.stats()["bytes_received"] < len(body_server.body), "read it all anyway"
        deframer = frames.Deframer()
        got = bytearray()
        for chunk in reader(fd, time.monotonic() + 30):
            for item in deframer.feed(chunk):
                frame = api.parse(item.data)
                if isinstance(frame, api.RXIPv4):
                    got += frame.payload
            if (total := complete(bytes(got))) is not None:
                break
        assert bytes(got[total - len(body_server.body):total]) == body_server.body
    finally:
        os.close(fd)
        sim.stop()


@pytest.mark.parametrize("body_server", [1_000_000], indirect=True)
def test_a_port_nobody_reads_keeps_only_the_newest_output(
    body_server: HttpServer, monkeypatch: pytest.MonkeyPatch
):
    """Nobody reads at all: then, and only then, memory is bounded by dropping the oldest
    output, and the network is not held for a port that nobody reads."""
    from harness.sim.host import ports

    monkeypatch.setattr(ports, "UNREAD_AFTER", 0.3)
    sim, fd = start(1, body_server, paced=False)
    try:
        os.write(fd, api.encode(api.TXRequestIPv4(1, SERVER_IP, 80, 0, 1, 0, GET)))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stats = sim.stats()
            if stats.get("bytes_received", 0) >= len(body_server.body):
                break
            time.sleep(0.05)
        assert stats.get("bytes_received", 0) >= len(body_server.body), "network held"
        def backlog() -> int:
            return sim.call(lambda m: max(len(s.out) for s in sim._sinks))

        while backlog() > ports.MAX_PENDING_OUTPUT and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backlog() <= ports.MAX_PENDING_OUTPUT
        assert sim.error is None
    finally:
        os.close(fd)
        sim.stop()
