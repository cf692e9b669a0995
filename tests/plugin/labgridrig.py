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
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.servers import HttpServer, Pki
from tests.plugin.benchrig import ADDRESSES, _personality, _routes, _start_servers, _write_profile

EXPORTER = "xbee-hil-test"
STARTUP = 60.0  # seconds for the coordinator, exporter and simulators to come up (CI is slow)


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
    servers: dict[str, HttpServer] = field(default_factory=dict)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

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

    def close(self) -> None:
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


def _exporter_config(urls: Iterable[str]) -> dict[str, dict[str, dict[str, object]]]:
    """One resource group per simulator: its RFC 2217 port as a NetworkSerialPort (the
    exporter passes such a resource on as it is; a USBSerialPort it would serve by ser2net)."""
    config = {}
    for n, url in enumerate(urls):
        host, port = url.removeprefix("rfc2217://").rsplit(":", 1)
        config[f"xbee-{n}"] = {"NetworkSerialPort": {
            "host": host, "port": int(port), "speed": 9600, "protocol": "rfc2217"}}
    return config


def start_lab(
    workdir: str | Path,
    places: int = 2,
    *,
    personality: str = "cat1-3100C",
    modes: Iterable[str] = ("transparent", "api", "api-escaped"),
    tls_variants: Iterable[str] | None = None,
    profile_extra: dict | None = None,
) -> LabgridLab:
    """Servers, `places` simulators, the coordinator, the exporter and the places."""
    lab = LabgridLab(Path(workdir))
    lab.workdir.mkdir(parents=True, exist_ok=True)
    try:
        lab.pki, lab.servers = _start_servers(lab.workdir)
        path = _personality(personality, lab.workdir)
        urls = [_start_simulator(lab, path, n) for n in range(places)]
        coord = _spawn(lab, [*_module("labgrid.remote.coordinator"), "-l", "127.0.0.1:0"],
                       "coordinator.log")  # fmt: skip
        lab.coordinator = _first_line(coord, r"listening on (\S+:\d+)", "labgrid-coordinator")[1]
        config = lab.workdir / "exporter.yaml"
        config.write_text(yaml.safe_dump(_exporter_config(urls)), encoding="utf-8")
        _spawn(lab, [*_module("labgrid.remote.exporter"), "-c", lab.coordinator,
                     "--name", EXPORTER, str(config)], "exporter.log", pipe=False)  # fmt: skip
        _wait_resources(lab, places)
        for n, url in enumerate(urls):
            name = f"xbee-{n}"
            lab.client("create", place=name)
            lab.client("add-match", f"{EXPORTER}/xbee-{n}/*", place=name)
            lab.places.append(name)
            lab.urls[name] = url
        lab.profile = _write_profile(lab.workdir, lab.pki, modes, tls_variants, profile_extra)
    except BaseException:
        lab.close()
        raise
    return lab


def _wait_resources(lab: LabgridLab, count: int) -> None:
    """Until the coordinator lists the exporter's resources (`labgrid-client resources`)."""
    deadline = time.monotonic() + STARTUP
    out = ""
    while time.monotonic() < deadline:
        out = lab.client("resources", check=False)
        if sum(f"{EXPORTER}/xbee-{n}/NetworkSerialPort" in out for n in range(count)) == count:
            return
        time.sleep(0.2)
    log = (lab.workdir / "exporter.log").read_text(encoding="utf-8")[-800:]
    raise RuntimeError(f"the exporter's resources did not appear: {out!r}; exporter: {log}")
