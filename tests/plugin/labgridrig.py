"""A labgrid lab on loopback: a real `labgrid-coordinator` and `labgrid-exporter`, simulators
(`xbee-sim --rfc2217`) exported as `NetworkSerialPort` resources, one place per simulator.

What a bench with labgrid looks like to the harness (examples/bench/), with the simulator
where the exporter's ser2net would serve a USB-serial module. All simulators share one set of
loopback servers and one PKI, so one hardware-style profile (tests/plugin/benchrig.py) serves
every place. The coordinator and exporter are labgrid's own programs of this interpreter
(`python -m labgrid.remote.coordinator`, `... .exporter`), the places are made with
`labgrid-client create` / `add-match`, as examples/bench/README.md says.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.servers import Pki
from tests.plugin.benchrig import ADDRESSES, _personality, _routes, _start_servers, _write_profile

EXPORTER = "xbee-hil-test"
DEAD = "xbee-dead"  # a place whose NetworkSerialPort nobody listens on
STARTUP = 60.0  # seconds for the coordinator, exporter and simulators to come up (CI is slow)


class Pdu:
    """A power switch on loopback that speaks labgrid's `simplerest` model
    (`labgrid/driver/power/simplerest.py`: GET HOST/relay/{index}/{value}, value 1/0 sets,
    empty reads): it records every switching, and switches nothing else."""

    def __init__(self) -> None:
        self.switched: list[tuple[int, int]] = []  # (index, 0 off / 1 on), in order
        self.state: dict[int, int] = {}
        pdu = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")  # relay, index[, value]
                index = int(parts[1])
                if len(parts) > 2 and parts[2] in ("0", "1"):
                    pdu.switched.append((index, int(parts[2])))
                    pdu.state[index] = int(parts[2])
                body = str(pdu.state.get(index, 1)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/relay/{{index}}/{{value}}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _module(name: str) -> list[str]:
    return [sys.executable, "-m", name]


@dataclass
class LabgridLab:
    """The running lab: the coordinator's address, the places, the profile for the run."""

    workdir: Path
    coordinator: str = ""
    profile: Path | None = None
    places: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)  # place -> the simulator's rfc2217://
    pki: Pki | None = None
    servers: dict[str, Any] = field(default_factory=dict)  # HttpServer and faulty servers
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    pdu: Pdu | None = None  # each place's NetworkPowerPort (index = the place's number)

    def client(self, *args: str, place: str | None = None, check: bool = True) -> str:
        """Run `labgrid-client -x COORDINATOR [-p PLACE] ARGS` and return its stdout."""
        cmd = [*_module("labgrid.remote.client"), "-x", self.coordinator]
        cmd += ["-p", place] if place else []
        done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60,
                              check=False, stdin=subprocess.DEVNULL)  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"labgrid-client {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def acquired_by(self, place: str) -> str | None:
        """Who holds `place` (`host/user`), or None (`labgrid-client show`)."""
        found = re.search(r"^\s*acquired: (\S+)", self.client("show", place=place), re.M)
        holder = found.group(1) if found else "None"
        return None if holder == "None" else holder

    def device_args(self) -> list[str]:
        return [arg for p in self.places for arg in ("--device", f"labgrid:{p}")]

    def changed(self, place: str) -> str:
        """When the coordinator last changed `place` (an acquire or a release changes it)."""
        found = re.search(r"^\s*changed: (.+)$", self.client("show", place=place), re.M)
        return found.group(1).strip() if found else ""

    def close(self) -> None:
        if self.pdu is not None:
            self.pdu.stop()
        for proc in reversed(self.processes):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for srv in self.servers.values():
            with contextlib.suppress(Exception):
                srv.stop()


def _spawn(
    lab: LabgridLab, cmd: list[str], log: str, *, pipe: bool = True
) -> subprocess.Popen[str]:
    """Start a program of the lab; stderr (and without `pipe`, stdout) to a log file."""
    out = (lab.workdir / log).open("w", encoding="utf-8")
    proc = subprocess.Popen(cmd, cwd=lab.workdir, stdout=subprocess.PIPE if pipe else out,
                            stderr=out, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    out.close()
    lab.processes.append(proc)
    return proc


def _first_line(proc: subprocess.Popen[str], pattern: str, what: str) -> re.Match[str]:
    """The first stdout line matching `pattern` (the line a program prints when it is up)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if found := re.search(pattern, line):
            return found
    raise RuntimeError(f"{what} did not start (exit {proc.poll()}): {seen[-5:]}")


def _start_simulator(lab: LabgridLab, personality: Path, n: int) -> str:
    cmd = [str(Path(sys.executable).parent / "xbee-sim"), "--rfc2217", "127.0.0.1:0",
           "--personality", str(personality), "--no-route-timeout", "3", "--log-level", "ERROR"]
    cmd += [arg for name, ip in ADDRESSES.items() for arg in ("--host", f"{name}={ip}")]
    cmd += [a for src, dst in _routes(lab.servers).items() for a in ("--route", f"{src}={dst}")]
    proc = _spawn(lab, cmd, f"xbee-sim-{n}.log")
    return _first_line(proc, r"^(rfc2217://\S+)", "xbee-sim").group(1)


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _exporter_config(
    urls: dict[str, str], pdu: Pdu
) -> dict[str, dict[str, dict[str, object]]]:
    """One resource group per place: the simulator's RFC 2217 port as a NetworkSerialPort
    (the exporter passes such a resource on as it is; a USBSerialPort it would serve by
    ser2net) and a NetworkPowerPort on the loopback PDU."""
    config = {}
    for n, (group, url) in enumerate(urls.items()):
        host, port = url.removeprefix("rfc2217://").rsplit(":", 1)
        config[group] = {
            "NetworkSerialPort": {"host": host, "port": int(port), "speed": 9600,
                                  "protocol": "rfc2217"},
            "NetworkPowerPort": {"model": "simplerest", "host": pdu.url, "index": n},
        }  # fmt: skip
    return config


def start_lab(
    workdir: str | Path,
    places: int = 2,
    *,
    dead: bool = False,
    personality: str = "cat1-3100C",
    modes: Iterable[str] = ("transparent", "api", "api-escaped"),
    tls_variants: Iterable[str] | None = None,
    profile_extra: dict | None = None,
) -> LabgridLab:
    """Servers, `places` simulators, the coordinator, the exporter and the places (`xbee-N`;
    with `dead`, also `xbee-dead`, whose serial port refuses connections)."""
    lab = LabgridLab(Path(workdir))
    lab.workdir.mkdir(parents=True, exist_ok=True)
    try:
        lab.pki, servers, faulty = _start_servers(lab.workdir)
        lab.servers = {**servers, **faulty}  # the host-side faults' servers are routed too
        lab.pdu = Pdu()
        path = _personality(personality, lab.workdir)
        urls = {f"xbee-{n}": _start_simulator(lab, path, n) for n in range(places)}
        if dead:
            urls[DEAD] = f"rfc2217://127.0.0.1:{_closed_port()}"
        coord = _spawn(lab, [*_module("labgrid.remote.coordinator"), "-l", "127.0.0.1:0"],
                       "coordinator.log")  # fmt: skip
        lab.coordinator = _first_line(coord, r"listening on (\S+:\d+)", "labgrid-coordinator")[1]
        config = lab.workdir / "exporter.yaml"
        config.write_text(yaml.safe_dump(_exporter_config(urls, lab.pdu)), encoding="utf-8")
        _spawn(lab, [*_module("labgrid.remote.exporter"), "-c", lab.coordinator,
                     "--name", EXPORTER, str(config)], "exporter.log", pipe=False)  # fmt: skip
        _wait_resources(lab, list(urls))
        for name, url in urls.items():
            lab.client("create", place=name)
            lab.client("add-match", f"{EXPORTER}/{name}/*", place=name)
            if name != DEAD:
                lab.places.append(name)
            lab.urls[name] = url
        lab.profile = _write_profile(lab.workdir, lab.pki, modes, tls_variants, profile_extra)
    except BaseException:
        lab.close()
        raise
    return lab


def _wait_resources(lab: LabgridLab, groups: list[str]) -> None:
    """Until the coordinator lists the exporter's resources (`labgrid-client resources`)."""
    deadline = time.monotonic() + STARTUP
    out = ""
    while time.monotonic() < deadline:
        out = lab.client("resources", check=False)
        if all(f"{EXPORTER}/{group}/{cls}" in out for group in groups
               for cls in ("NetworkSerialPort", "NetworkPowerPort")):  # fmt: skip
            return
        time.sleep(0.2)
    log = (lab.workdir / "exporter.log").read_text(encoding="utf-8")[-800:]
    raise RuntimeError(f"the exporter's resources did not appear: {out!r}; exporter: {log}")
