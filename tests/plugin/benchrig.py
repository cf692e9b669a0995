"""A bench without hardware: the simulator served as RFC 2217, reached through the harness's
hardware code path (no personality, a hardware-style profile, targets under host names).

What a new user's bench with ser2net looks like to the harness: `--device rfc2217://…` and a
profile that names real-looking targets with `ca:` files. The simulator's DNS sends those
host names to loopback servers started here, from a PKI made here. Reused by the bench
rehearsal (issue 9, deliverable 10) and by the tests of observations 1, 2 and 9.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.pytest_plugin.simrig import start_fault_servers
from harness.servers import HttpServer, HttpsServer, Pki
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer

HOST = "bench.example"
MTLS_HOST = "mtls.bench.example"
ADDRESSES = {HOST: "203.0.113.20", MTLS_HOST: "203.0.113.21"}  # TEST-NET-3, never routed
# The resilience suite's host-side faults on the bench target's host, one port each (the
# profile's `fault_targets:`), served by harness/servers/faulty.py on loopback.
FAULT_PORTS = {"server-down": 81, "server-reset": 82, "slow-server": 83}
# Registration in real seconds (the rig runs the module's clock at real time, as a bench):
# short, so a run does not wait 8 s to attach.
REGISTRATION_S = 0.1


@dataclass
class BenchRig:
    """The running bench: the device URL and profile to pass to pytest, and its parts."""

    device: str  # rfc2217://127.0.0.1:PORT
    profile: Path
    pki: Pki
    server: SimServer | None  # in-process; None when the simulator is `process`
    servers: dict[str, HttpServer] = field(default_factory=dict)
    fault_servers: dict[str, Any] = field(default_factory=dict)  # harness.servers.faulty
    process: subprocess.Popen[str] | None = None  # `xbee-sim --rfc2217` in its own process

    def args(self, *more: str) -> list[str]:
        return ["--device", self.device, "--profile", str(self.profile), *more]

    def stop(self, name: str) -> None:
        """Stop one server ("http", "https", "mutual"): its connections are refused."""
        self.servers.pop(name).stop()

    def close(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for srv in [*self.servers.values(), *self.fault_servers.values()]:
            with contextlib.suppress(Exception):
                srv.stop()


def _personality(name: str, workdir: Path) -> Path:
    """The shipped personality with a short registration (simulator-only timing)."""
    text = personality_mod.load(name).path.read_text(encoding="utf-8")
    for key in ("initializing_s", "registering_s", "connecting_s"):
        text = "\n".join(
            f"  {key}: {REGISTRATION_S}" if line.strip().startswith(f"{key}:") else line
            for line in text.splitlines()
        )
    path = workdir / f"{name}.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _routes(servers: dict[str, Any]) -> dict[str, str]:
    """Each target's simulated address and port → the loopback server that answers it."""

    def at(name: str) -> str:
        return f"{servers[name].host}:{servers[name].port}"

    return {
        f"{ADDRESSES[HOST]}:80": at("http"),
        f"{ADDRESSES[HOST]}:443": at("https"),
        f"{ADDRESSES[MTLS_HOST]}:443": at("mutual"),
        **{f"{ADDRESSES[HOST]}:{port}": at(name) for name, port in FAULT_PORTS.items()},
    }


def _start_servers(workdir: Path) -> tuple[Pki, dict[str, HttpServer], dict[str, Any]]:
    pki = Pki.create(workdir / "pki", hostnames=(HOST, MTLS_HOST))
    servers: dict[str, HttpServer] = {
        "http": HttpServer().start(),
        "https": HttpsServer(pki).start(),
        "mutual": HttpsServer(pki, mutual=True).start(),
    }
    try:
        faulty = start_fault_servers()
    except BaseException:
        for srv in servers.values():
            srv.stop()
        raise
    return pki, servers, faulty


def _write_profile(
    workdir: Path,
    pki: Pki,
    modes: Iterable[str],
    tls_variants: Iterable[str] | None,
    profile_extra: dict | None,
) -> Path:
    ca = str(pki.path("root_ca"))
    profile: dict[str, Any] = {
        "name": "bench-rehearsal",
        "description": "the simulator over RFC 2217, seen as a real module "
        "(tests/plugin/benchrig.py)",
        "device": {"baud": 9600},
        "network": {"registration_timeout": 30},
        "baseline": {"GT": 0x64},  # 100 ms guard times: a bench may choose them too
        "targets": {
            "http": {"url": f"http://{HOST}/"},
            "https": {
                "url": f"https://{HOST}/", "ca": ca,
                # leaf-as-ca / intermediate-as-ca: the host cannot resolve the target's name
                # to fetch its chain, so the profile names the files, as a bench may
                "leaf": str(pki.path("server_cert")),
                "intermediate": str(pki.path("intermediate_ca")),
            },
            "mutual": {
                "url": f"https://{MTLS_HOST}/", "ca": ca,
                "client_cert": str(pki.path("client_cert")),
                "client_key": str(pki.path("client_key")),
                "client_cert_v1": str(pki.path("client_cert_v1")),
            },
        },
        # the resilience suite's host-side faults (suites/test_faults.py), as a bench names them
        "fault_targets": {
            **{name.replace("-", "_"): f"http://{HOST}:{port}/"
               for name, port in FAULT_PORTS.items()},
            "unresolvable": "http://no-such-host.invalid/",
        },
        "modes": list(modes),
        **({"tls_variants": list(tls_variants)} if tls_variants is not None else {}),
    }  # fmt: skip
    for key, value in (profile_extra or {}).items():  # `network:` merges, others replace
        if isinstance(value, dict) and isinstance(profile.get(key), dict):
            profile[key] = {**profile[key], **value}
        else:
            profile[key] = value
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return path


def start_bench(
    workdir: str | Path,
    *,
    personality: str = "cat1-3100C",
    resolvable: bool = True,
    modes: Iterable[str] = ("transparent", "api", "api-escaped"),
    tls_variants: Iterable[str] | None = None,
    profile_extra: dict | None = None,
) -> BenchRig:
    """Start the servers and the RFC 2217 simulator and write the hardware-style profile.
    `resolvable=False`: the simulated DNS does not know the targets' host names."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    pki, servers, faulty = _start_servers(workdir)
    try:
        hosts = dict(ADDRESSES) if resolvable else {}
        network = Network(NetworkConfig(hosts=hosts, routes=_routes({**servers, **faulty}),
                                        no_route_timeout=3.0))  # fmt: skip
        modem = Modem(str(_personality(personality, workdir)))
        server = SimServer(modem, network, time_scale=1.0, uart_pacing=False)
        host, port = server.start_rfc2217("127.0.0.1", 0)
    except BaseException:
        for srv in [*servers.values(), *faulty.values()]:
            srv.stop()
        raise
    path = _write_profile(workdir, pki, modes, tls_variants, profile_extra)
    return BenchRig(f"rfc2217://{host}:{port}", path, pki, server, servers, faulty)


def start_bench_process(
    workdir: str | Path,
    *,
    personality: str = "cat1-3100C",
    resolvable: bool = True,
    modes: Iterable[str] = ("transparent", "api", "api-escaped"),
    tls_variants: Iterable[str] | None = None,
    profile_extra: dict | None = None,
) -> BenchRig:
    """As `start_bench`, with the simulator as a new user runs it: the `xbee-sim --rfc2217`
    command in its own process, DNS and routes from `--host`/`--route`, the personality as a
    file. Its first line of output is the URL to open."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    pki, servers, faulty = _start_servers(workdir)
    cmd = [str(Path(sys.executable).parent / "xbee-sim"), "--rfc2217", "127.0.0.1:0",
           "--personality", str(_personality(personality, workdir)),
           "--no-route-timeout", "3", "--log-level", "ERROR"]  # fmt: skip
    if resolvable:
        cmd += [arg for name, ip in ADDRESSES.items() for arg in ("--host", f"{name}={ip}")]
    cmd += [arg for src, dst in _routes({**servers, **faulty}).items()
            for arg in ("--route", f"{src}={dst}")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("rfc2217://"):
        proc.kill()
        proc.wait(10)
        for srv in [*servers.values(), *faulty.values()]:
            srv.stop()
        raise RuntimeError(f"xbee-sim did not print its port: {url!r} (exit {proc.poll()})")
    path = _write_profile(workdir, pki, modes, tls_variants, profile_extra)
    return BenchRig(url, path, pki, None, servers, faulty, process=proc)
