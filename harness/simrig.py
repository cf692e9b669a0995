"""The simulator's bench: a simulated module on a pty, and the internet it reaches.

`start_rig` makes a throwaway PKI, starts the local servers (plain HTTP, HTTPS with the
forum's chain, mutual-TLS HTTPS), maps their host names in the simulated DNS to addresses
from TEST-NET-3 (RFC 5737, never routed) and routes those addresses to the loopback
servers, then serves a `Modem` of the chosen personality on a pseudo-terminal. The device
layer opens the pty path like any serial port and cannot tell the difference.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from harness.servers import HttpServer, HttpsServer, Pki
from harness.sim.flashfs import FlashFS
from harness.sim.modem import Modem
from harness.sim.network import Network, NetworkConfig
from harness.sim.serve import SimServer

# The names the suites use (F-HTTPS: DL=google.com) and where the simulated DNS puts them.
HOSTS = {
    "google.com": "203.0.113.10",
    "www.google.com": "203.0.113.10",
    "mtls.google.com": "203.0.113.11",
}
# Simulated time runs this much faster than real time in fast mode (guard times, CT,
# registration): 1 s of module time takes 10 ms.
FAST_TIME_SCALE = 0.01


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

    @property
    def guard_time(self) -> float:
        """The module's default GT (1 s, D-GT) in real seconds at this time scale."""
        return 1.0 * self.time_scale

    @property
    def command_timing(self) -> dict[str, float]:
        """CT (10 s, D-ENTER) and the longest GT (0x6D3 ms, D-GT) at this time scale, for
        `device.configure.Module`: the harness must know how fast the module's clock runs."""
        scale = self.time_scale
        return {"command_timeout": 10.0 * scale, "max_guard_time": 1.747 * scale}

    def stats(self) -> dict[str, float]:
        """The time the simulator imposed (UART, guard times, network), for benchmarks."""
        out: dict[str, float] = {}
        for part in (self.server, self.network):
            get = getattr(part, "stats", None)
            if callable(get):
                out.update(get())
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop()
        for srv in self.servers.values():
            with contextlib.suppress(Exception):
                srv.stop()

    def __enter__(self) -> SimRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_rig(
    personality: str,
    workdir: str | Path,
    *,
    time_scale: float = FAST_TIME_SCALE,
    uart_pacing: bool = False,
    latency: float = 0.0,
    tls_handshake_time: float = 0.0,
    flash_dir: str | Path | None = None,
) -> SimRig:
    """Start the servers and a simulated module; realistic timing is `time_scale=1`,
    `uart_pacing=True` and a cellular `latency` (seconds of round trip)."""
    workdir = Path(workdir)
    pki = Pki.create(workdir / "pki")
    servers: dict[str, HttpServer] = {
        "http": HttpServer().start(),
        "https": HttpsServer(pki).start(),
        "mutual": HttpsServer(pki, mutual=True).start(),
    }
    try:
        routes = {
            f"{HOSTS['google.com']}:80": f"{servers['http'].host}:{servers['http'].port}",
            f"{HOSTS['google.com']}:443": f"{servers['https'].host}:{servers['https'].port}",
            f"{HOSTS['mtls.google.com']}:443": f"{servers['mutual'].host}:{servers['mutual'].port}",
        }
        config = NetworkConfig(
            hosts=HOSTS,
            routes=routes,
            latency=latency * time_scale,
            tls_handshake_time=tls_handshake_time * time_scale,
            no_route_timeout=30.0 * time_scale,
        )
        network = Network(config)
        flash = FlashFS(Path(flash_dir)) if flash_dir is not None else FlashFS()
        modem = Modem(personality, flash=flash)
        server = SimServer(modem, network, time_scale=time_scale, uart_pacing=uart_pacing)
        path = server.start_pty()
    except BaseException:
        for srv in servers.values():
            srv.stop()
        raise
    urls = {
        "http": "http://google.com/",
        "https": "https://google.com/",
        "mutual": "https://mtls.google.com/",
    }
    return SimRig(personality, path, pki, server, network, servers, urls, time_scale)
