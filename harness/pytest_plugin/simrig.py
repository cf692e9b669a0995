"""The simulator's bench: a simulated module on a pty, and the internet it reaches.

`start_rig` makes a throwaway PKI, starts the local servers (plain HTTP, HTTPS with the
forum's chain, mutual-TLS HTTPS), maps their host names in the simulated DNS to addresses
from TEST-NET-3 (RFC 5737, never routed) and routes those addresses to the loopback
servers, then serves a `Modem` of the chosen personality on a pseudo-terminal. The device
layer opens the pty path like any serial port and cannot tell the difference.

Two timings (`--sim-timing`): `fast` runs the module's clock 100 times faster with no UART
pacing, for quick suites; `realistic` runs it at real speed with the UART paced at BD, a
cellular round trip and a TLS handshake time, so a run takes what a bench would, and the
simulator's account (`SimRig.stats()`) says how much of that the module and network imposed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.device.clock import REAL, Clock, WarpClock
from harness.device.module import ModuleTiming
from harness.device.transport import Tap, open_device
from harness.servers import ECDHE_ONLY, HttpServer, HttpsServer, Pki
from harness.servers.faulty import ClosedPort, ResetServer, SlowServer
from harness.sim.core.modem import Modem
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer, baud_rate

# The names the suites use (F-HTTPS: DL=google.com) and where the simulated DNS puts them.
HOSTS = {
    "google.com": "203.0.113.10",
    "www.google.com": "203.0.113.10",
    "mtls.google.com": "203.0.113.11",
    # servers of the TLS-limit variants (ecdhe-only-server, long-cn, sni-required)
    "ecdhe.google.com": "203.0.113.12",
    "longcn.google.com": "203.0.113.13",
    "sni.google.com": "203.0.113.14",
    # the resilience suite's host-side faults (harness/servers/faulty.py), port 80
    "down.google.com": "203.0.113.15",
    "reset.google.com": "203.0.113.16",
    "slow.google.com": "203.0.113.17",
}
# The host-side faults' endpoints by the name the suite asks for (`port.urls`), as a bench
# profile's `fault_targets:` names them; the unresolvable one needs no server (RFC 2606).
FAULT_SERVERS = {
    "server-down": "down.google.com",
    "server-reset": "reset.google.com",
    "slow-server": "slow.google.com",
}
UNRESOLVABLE_URL = "http://no-such-host.invalid/"
LIMIT_SERVERS = {
    "ecdhe": "ecdhe.google.com",
    "long-cn": "longcn.google.com",
    "sni": "sni.google.com",
}
# Simulated time runs this much faster than real time in fast mode (guard times, CT,
# registration): 1 s of module time takes 10 ms.
FAST_TIME_SCALE = 0.01
# Realistic timing, in module (= real) seconds. A-SIM-REALISTIC (docs/assumptions.md): a
# cellular round trip of 300 ms is typical of LTE Cat 1 / LTE-M under good coverage, and a
# TLS 1.2 handshake with an RSA chain costs about 500 ms on the module (two round trips
# already counted in the latency are not in it). Neither figure is from Digi.
REALISTIC_RTT = 0.3
REALISTIC_TLS_HANDSHAKE = 0.5
# In realistic mode the simulated bench's module is at BD=7 (115200 baud) from power-up, as a
# bench would configure its module once: at the 9600 default, a certificate upload or a TLS
# response spends ~1 s per KB on the wire, time a bench would not choose to pay. The harness
# opens the port at this rate (the profile's device.baud describes a real bench). A-SIM-BD.
REALISTIC_BD = 7
DEFAULT_BD = 3  # 9600 (D-BD), the factory default
# The host's wait for a response's first byte beyond what the network imposes (2 round trips
# + the handshake), real seconds. Fast timing imposes nothing, so the margin must hold the
# real loopback TLS handshake and server on a loaded 2-core machine; realistic timing's
# imposed delays already cover those (they run inside it), so its margin is only jitter. In
# transparent mode a failed connection costs the host this margin (D-TRANSP: no signal).
FAST_FIRST_BYTE_MARGIN = 1.0
REALISTIC_FIRST_BYTE_MARGIN = 0.4
# A server that never answers times out after this many module seconds (A-NET-NOROUTE's
# network default is 5 s; the rig gives the suites' unrouted addresses longer).
NO_ROUTE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Timing:
    """How fast the simulated bench runs: one row per `--sim-timing` value."""

    name: str
    time_scale: float  # simulated seconds per real second (< 1 = faster)
    uart_pacing: bool  # host-bound bytes leave at BD in real time (A-UART-PACING)
    latency: float  # cellular round trip, module seconds
    tls_handshake_time: float  # module seconds
    bd: int  # BD the module is at from power-up (D-BD code)
    first_byte_margin: float  # real seconds, see FAST_FIRST_BYTE_MARGIN


TIMINGS: dict[str, Timing] = {
    t.name: t
    for t in (
        Timing("fast", FAST_TIME_SCALE, False, 0.0, 0.0, DEFAULT_BD, FAST_FIRST_BYTE_MARGIN),
        Timing(
            "realistic",
            1.0,
            True,
            REALISTIC_RTT,
            REALISTIC_TLS_HANDSHAKE,
            REALISTIC_BD,
            REALISTIC_FIRST_BYTE_MARGIN,
        ),
    )
}
DEFAULT_TIMING = "fast"


def find_timing(name: str | Timing) -> Timing:
    """A timing by name, or a ValueError naming the choices."""
    if isinstance(name, Timing):
        return name
    try:
        return TIMINGS[name]
    except KeyError:
        raise ValueError(f"sim timing {name!r}: expected one of {', '.join(TIMINGS)}") from None


@dataclass
class SimRig:
    """A running simulated module and its servers; `close()` stops everything."""

    personality: str
    path: str  # the pty the harness opens
    pki: Pki
    server: SimServer
    network: Network
    servers: dict[str, HttpServer]
    urls: dict[str, str] = field(default_factory=dict)
    time_scale: float = 1.0
    timing: Timing = TIMINGS[DEFAULT_TIMING]
    fault_servers: dict[str, Any] = field(default_factory=dict)  # harness.servers.faulty

    @property
    def guard_time(self) -> float:
        """The module's default GT (1 s, D-GT) in real seconds at this time scale."""
        return 1.0 * self.time_scale

    @property
    def command_timing(self) -> ModuleTiming:
        """CT (10 s, D-ENTER) and the longest GT (0x6D3 ms, D-GT) at this time scale, and
        the scale itself, for `device.module.Module`: the harness must know how fast the
        module's clock runs (a GT or CT it writes is followed at this scale)."""
        scale = self.time_scale
        return {"command_timeout": 10.0 * scale, "max_guard_time": 1.747 * scale,
                "time_scale": scale}

    @property
    def baud(self) -> int:
        """The rate the module's UART is at from power-up (the harness opens the port so)."""
        return baud_rate(self.timing.bd)

    @property
    def first_byte_timeout(self) -> float:
        """How long the host waits for a response's first byte, in real seconds: the
        connect round trip, the handshake and the request's round trip, plus a margin."""
        t = self.timing
        return t.first_byte_margin + (2 * t.latency + t.tls_handshake_time) * self.time_scale

    @property
    def failure(self) -> str | None:
        """The simulator's own error in one line when its loop failed, else None: the run's
        stop reason must be this, not the silence the host then sees (issue 10, defect 7)."""
        return self.server.failure

    def stats(self) -> dict[str, float]:
        """The simulator's account of imposed time (`SimServer.stats()`: UART, guard
        times, registration, resets, and the network's delays), in real seconds."""
        return self.server.stats()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop()
        _stop_all([*self.servers.values(), *self.fault_servers.values()])

    def __enter__(self) -> SimRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop_all(servers: list[Any]) -> None:
    """Stop the servers side by side: each waits out its accept loop's poll (50 ms), six
    one after another were 0.2 s of every rig's close (issue 13)."""

    def stop(srv: HttpServer) -> None:
        with contextlib.suppress(Exception):
            srv.stop()

    threads = [threading.Thread(target=stop, args=(srv,), daemon=True) for srv in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)


def start_rig(
    personality: str,
    workdir: str | Path,
    *,
    timing: str | Timing = DEFAULT_TIMING,
    time_scale: float | None = None,
    uart_pacing: bool | None = None,
    latency: float | None = None,
    tls_handshake_time: float | None = None,
    flash_dir: str | Path | None = None,
    clock: Callable[[], float] | None = None,
) -> SimRig:
    """Start the servers and a simulated module at a `timing` ("fast" or "realistic");
    the keyword arguments override that timing's values (latency and handshake time in
    module seconds, scaled to real time here). `clock`: what the server's simulated time
    reads (a host's warping clock, A-CLOCK-WARP); real time by default."""
    base = find_timing(timing)
    chosen = Timing(
        base.name,
        base.time_scale if time_scale is None else time_scale,
        base.uart_pacing if uart_pacing is None else uart_pacing,
        base.latency if latency is None else latency,
        base.tls_handshake_time if tls_handshake_time is None else tls_handshake_time,
        base.bd,
        base.first_byte_margin,
    )
    scale = chosen.time_scale
    workdir = Path(workdir)
    pki = Pki.create(workdir / "pki")
    servers: dict[str, HttpServer] = {
        "http": HttpServer().start(),
        "https": HttpsServer(pki).start(),
        "mutual": HttpsServer(pki, mutual=True).start(),
        "ecdhe": HttpsServer(pki, ciphers=ECDHE_ONLY).start(),
        "long-cn": HttpsServer(pki, long_cn=True).start(),
        "sni": HttpsServer(pki, require_sni=True).start(),
    }
    faulty: dict[str, Any] = {}
    try:
        faulty = start_fault_servers()
        routes = {
            f"{HOSTS['google.com']}:80": f"{servers['http'].host}:{servers['http'].port}",
            f"{HOSTS['google.com']}:443": f"{servers['https'].host}:{servers['https'].port}",
            f"{HOSTS['mtls.google.com']}:443": f"{servers['mutual'].host}:{servers['mutual'].port}",
            **{f"{HOSTS[host]}:443": f"{servers[kind].host}:{servers[kind].port}"
               for kind, host in LIMIT_SERVERS.items()},
            **{f"{HOSTS[host]}:80": f"{faulty[kind].host}:{faulty[kind].port}"
               for kind, host in FAULT_SERVERS.items()},
        }  # fmt: skip
        config = NetworkConfig(
            hosts=HOSTS,
            routes=routes,
            latency=chosen.latency * scale,
            tls_handshake_time=chosen.tls_handshake_time * scale,
            no_route_timeout=NO_ROUTE_TIMEOUT * scale,
        )
        network = Network(config)
        flash = FlashFS(Path(flash_dir)) if flash_dir is not None else FlashFS()
        nvm = {"BD": chosen.bd} if chosen.bd != DEFAULT_BD else None
        modem = Modem(personality, flash=flash, nvm=nvm)
        server = SimServer(modem, network, time_scale=scale, uart_pacing=chosen.uart_pacing,
                           clock=clock if clock is not None else time.monotonic)  # fmt: skip
        path = server.start_pty()
    except BaseException:
        for srv in [*servers.values(), *faulty.values()]:
            srv.stop()
        raise
    urls = {
        "http": "http://google.com/",
        "https": "https://google.com/",
        "mutual": "https://mtls.google.com/",
        **{kind: f"https://{host}/" for kind, host in LIMIT_SERVERS.items()},
        **{kind: f"http://{host}/" for kind, host in FAULT_SERVERS.items()},
        "unresolvable": UNRESOLVABLE_URL,
    }
    return SimRig(personality, path, pki, server, network, servers, urls, scale, chosen,
                  fault_servers=faulty)


def start_fault_servers() -> dict[str, Any]:
    """The host-side faults' loopback servers, by the suite's name for each."""
    started: dict[str, Any] = {}
    try:
        for srv in (ClosedPort(), ResetServer(), SlowServer()):
            started[srv.name] = srv.start()
    except BaseException:
        for srv in started.values():
            srv.stop()
        raise
    return started


@contextlib.contextmanager
def rig_tap(
    personality: str, workdir: str | Path, *, warp: bool = True
) -> Iterator[tuple[SimRig, Tap]]:
    """A fast-timing rig of its own and a tap on it, both on one warping clock unless
    `warp` is false (`--clock real`): a test that makes its own simulator skips the waits
    where nothing can happen, as the run's own fast simulator does (A-CLOCK-WARP).
    Its own `time.sleep` is real: wait on `tap.clock` instead."""
    clock: Clock = WarpClock() if warp else REAL
    with start_rig(personality, workdir, clock=clock.now if warp else None) as rig:
        tap = open_device(rig.path, rig.baud, clock=clock)
        try:
            if isinstance(clock, WarpClock):
                server = rig.server
                clock.attach(server.quiet, lambda: (tap.sent, tap.received), server.nudge)
            yield rig, tap
        finally:
            tap.close()
