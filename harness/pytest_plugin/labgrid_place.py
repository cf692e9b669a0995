"""`--device labgrid:PLACE`: a module on a labgrid place, reached through the same device
layer as `rfc2217://HOST:PORT`.

labgrid (github.com/labgrid-project/labgrid, read at ebe35351; release 26.0.1) runs labs of
boards on several hosts: a coordinator (gRPC since 24.0/25.0, `labgrid/remote/coordinator.py`)
brokers places and locks, exporters publish each host's resources, and a local serial port is
served by the exporter's ser2net as RFC 2217 (`labgrid/remote/exporter.py` `SerialPortExport`,
`exports["USBSerialPort"]`); a client sees it as a `NetworkSerialPort {host, port, speed,
protocol}` (`labgrid/resource/serialport.py`), and opens `rfc2217://host:port` for protocol
`rfc2217`, `socket://host:port` for `raw` (`labgrid/driver/serialdriver.py` `on_activate`).

The harness talks to the coordinator only through labgrid's documented command,
`labgrid-client` (run as `python -m labgrid.remote.client` of this interpreter, so the one
installed beside the harness answers): `acquire`, `env` (the acquired place's resources as
an environment YAML, `ClientSession.print_env`: the resources a `RemotePlace` expands
into, `labgrid/resource/remote.py` `RemotePlaceManager`), `power cycle` (the place's power resource
and the driver labgrid picks for it, `ClientSession.power`) and `release`. Its messages
are one line ("labgrid-client: Error: place pattern X matches nothing") and are passed on
as they are. None of labgrid is imported: the place's user is this host/user, as for any
`labgrid-client` a developer runs (A-LG-CLIENT).

The place is released when the device closes: at the end of the run, after a failed open,
and after Ctrl-C (pytest tears the session's fixtures down; the release runs in its own
session so a second Ctrl-C does not kill it half-way, A-LG-RELEASE).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from harness import yamlmarks
from harness.device.errors import DeviceError
from harness.profiles import Profile
from harness.pytest_plugin.devices import BenchDevice
from harness.pytest_plugin.port import Port
from harness.pytest_plugin.session import DeviceSpec, DeviceSpecError, HilSession, ModuleBroken

# labgrid's own default and variable (`labgrid/remote/client.py` `main`: `-x`/`--coordinator`,
# else `LG_COORDINATOR`, else 127.0.0.1:20408).
DEFAULT_COORDINATOR = "127.0.0.1:20408"
ENV_COORDINATOR = "LG_COORDINATOR"
CLIENT = (sys.executable, "-m", "labgrid.remote.client")
CLIENT_TIMEOUT = 60.0  # one labgrid-client command (a power cycle waits the driver's delay)
INSTALL_HINT = "pip install 'xbee-hil[labgrid]'"
FORK = "pyserial-labgrid"  # labgrid's pyserial fork (labgrid pyproject.toml; CHANGES.rst 24.0)
FORK_FIX = f"pip install --force-reinstall --no-deps {FORK}"
PROTOCOL_SCHEMES = {"rfc2217": "rfc2217", "raw": "socket"}  # NetworkSerialPort.protocol


class PlaceError(DeviceError):
    """labgrid could not do what the harness asked of a place (one line, labgrid's words)."""


def check_spec(raw: str, place: str) -> str:
    """The place name of `labgrid:PLACE`; a usage error when it is empty or labgrid is absent."""
    if not place.strip() or re.search(r"\s", place):
        raise DeviceSpecError(f"--device {raw}: give a labgrid place name (labgrid:PLACE)")
    try:
        found = importlib.util.find_spec("labgrid")
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        found = None
    if found is None:
        raise DeviceSpecError(f"--device {raw}: labgrid is not installed ({INSTALL_HINT})")
    return place


def coordinator(option: str | None) -> str:
    """labgrid's `--lg-coordinator`, else `LG_COORDINATOR`, else labgrid's default."""
    return option or os.environ.get(ENV_COORDINATOR) or DEFAULT_COORDINATOR


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class Place:
    """One labgrid place, through `labgrid-client -x COORDINATOR -p PLACE ...`."""

    def __init__(self, name: str, address: str, *, timeout: float = CLIENT_TIMEOUT) -> None:
        self.name = name
        self.address = address
        self.timeout = timeout
        self.acquired = False

    def __str__(self) -> str:
        return f"labgrid place {self.name} (coordinator {self.address})"

    def _command(self, *args: str) -> list[str]:
        return [*CLIENT, "-x", self.address, "-p", self.name, *args]

    def client(self, *args: str) -> str:
        """Run one `labgrid-client` command; its stdout, or PlaceError with its last line."""
        try:
            done = subprocess.run(
                self._command(*args), capture_output=True, text=True, timeout=self.timeout,
                check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PlaceError(
                f"{self}: labgrid-client {' '.join(args)} ran over {self.timeout:g} s"
            ) from None
        if done.returncode != 0:
            why = _last_line(done.stderr) or _last_line(done.stdout) or f"exit {done.returncode}"
            # "client.py: error: …" (its argparse prog under -m), "Server error: Error: …"
            why = re.sub(r"^((labgrid-client|client\.py): )?(server error: )?(error: )?", "",
                         why, flags=re.I)  # fmt: skip
            raise PlaceError(f"{self}: labgrid-client {' '.join(args)}: {why}")
        return done.stdout

    def acquire(self) -> None:
        self.client("acquire")
        self.acquired = True

    def serial_url(self) -> tuple[str, int | None]:
        """The pyserial URL of the place's one `NetworkSerialPort` (`labgrid-client env`),
        and the speed the exporter gives it."""
        try:
            env, _ = yamlmarks.load(self.client("env"), "labgrid-client env")
            targets = env["targets"]  # {the place's own name (PLACE may be an alias): ...}
            target = targets.get(self.name) or next(iter(targets.values()))
            resources: list[Any] = target["resources"] or []
        except (yamlmarks.YamlInputError, KeyError, TypeError, StopIteration) as exc:
            raise PlaceError(f"{self}: labgrid-client env: unexpected output ({exc})") from None
        ports = [args for item in resources for cls, args in dict(item).items()
                 if cls == "NetworkSerialPort"]  # fmt: skip
        if not ports:
            have = ", ".join(cls for item in resources for cls in dict(item)) or "none"
            raise PlaceError(
                f"{self}: no NetworkSerialPort among its resources ({have}); export the "
                "module's USBSerialPort (examples/bench/exporter.yaml) and add-match it"
            )
        if len(ports) > 1:
            names = ", ".join(str(p.get("name", "NetworkSerialPort")) for p in ports)
            raise PlaceError(f"{self}: {len(ports)} NetworkSerialPorts ({names}); a place "
                             "for xbee-hil holds one module")  # fmt: skip
        port = ports[0]
        scheme = PROTOCOL_SCHEMES.get(str(port.get("protocol", "rfc2217")))
        if scheme is None:
            raise PlaceError(f"{self}: NetworkSerialPort protocol {port.get('protocol')!r} "
                             "(rfc2217 or raw)")  # fmt: skip
        host = str(port["host"])
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        speed = port.get("speed")
        return f"{scheme}://{host}:{int(port['port'])}", int(speed) if speed else None

    def power_cycle(self) -> None:
        """Off and on by the place's power driver (labgrid's own delay between)."""
        self.client("power", "cycle")

    def release(self) -> str | None:
        """Release the place if this run acquired it; None, or why it could not.

        The command runs in a session of its own and is not killed when this process is
        interrupted while it waits: a second Ctrl-C does not leave the place half-released."""
        if not self.acquired:
            return None
        self.acquired = False
        proc = subprocess.Popen(
            self._command("release"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            _, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return f"{self}: labgrid-client release ran over {self.timeout:g} s"
        if proc.returncode != 0:
            return f"{self}: labgrid-client release: {_last_line(err) or proc.returncode}"
        return None


def serial_fork_issue() -> str | None:
    """One line when labgrid's pyserial fork is installed but the `serial` package on disk is
    another's: both distributions install `serial/`, and pip may write pyserial's (which
    xbee-hil and digi-xbee require) after the fork's (A-LG-PYSERIAL)."""
    try:
        dist = importlib.metadata.distribution(FORK)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.as_posix() != "serial/rfc2217.py" or entry.hash is None:
            continue
        path = Path(str(dist.locate_file(entry)))
        try:
            digest = hashlib.new(entry.hash.mode, path.read_bytes()).digest()
        except (OSError, ValueError):
            return None
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry.hash.value:
            return (f"{FORK} is installed but serial/rfc2217.py is not its file (pyserial "
                    f"was installed over it): labgrid's RFC 2217 fixes are off; {FORK_FIX}")
    return None


class LabgridDevice(BenchDevice):
    """A real module on a labgrid place: acquired at start, its NetworkSerialPort opened like
    `rfc2217://`, reset by the place's power driver with `reset: power`, released at close."""

    place: Place
    power_switch: ClassVar[bool] = True

    @classmethod
    def start(
        cls, spec: DeviceSpec, profile: Profile, session: HilSession, workdir: Path, timing: str,
        *, warp: bool = False,
    ) -> LabgridDevice:
        place = Place(spec.target or "", coordinator(session.labgrid_coordinator))
        try:
            place.acquire()
            url, speed = place.serial_url()
            device = super().start(spec, profile, session, workdir, timing, warp=warp)
        except PlaceError as exc:
            _released(place)
            raise ModuleBroken(str(exc)) from None
        except BaseException:  # a refused profile, Ctrl-C, a session budget's timer
            _released(place)
            raise
        assert isinstance(device, LabgridDevice)
        device.place = place
        device.path = url
        notices = [serial_fork_issue()]
        if speed is not None and speed != session.baud:  # A-LG-SPEED
            notices.append(f"{place}: its NetworkSerialPort's speed is {speed}, the run's baud "
                           f"{session.baud}: the harness opens it at {session.baud}")  # fmt: skip
        session.notices.extend(n for n in notices if n and n not in session.notices)
        return device

    def open(self, session: HilSession, profile: Profile, baud: int) -> Port:
        try:
            return super().open(session, profile, baud)
        except BaseException:
            self.close()  # the open's own failures close too; closing twice releases once
            raise

    def power_cycle(self) -> None:
        """The place's power driver: `reset: power` resets by it (A-LG-RESET-POWER)."""
        self.place.power_cycle()

    def close(self) -> None:
        _released(self.place)


def _released(place: Place) -> None:
    """Release, saying on stderr (one line) when labgrid could not: the place stays locked."""
    why = place.release()
    if why is not None:
        with contextlib.suppress(OSError):
            print(f"xbee-hil: {why}; release it with: labgrid-client -x {place.address} "
                  f"-p {place.name} release", file=sys.stderr)  # fmt: skip
