"""What the harness's own tests share, declared once for every folder under tests/.

- `pytest_plugins`: pytest reads it only in the top conftest of a run, so the pytester plugin
  the plugin, device and simulator tests drive is declared here rather than in each module.
- `start_sim` / `sim_pty`: the simulator on a pty (or RFC 2217 / TCP), a Modem of a given
  personality, AP and NVM behind a routes-only network (A-NET-ROUTES-ONLY); stopped after.
- `command_terminal`: a Tap opened on `sim_pty` with its capture, and a `CommandMode` whose
  guard and command times follow the simulator's GT, CT and time scale.
- `api_client`: a Tap opened on `sim_pty` (AP=1 unless the test asks otherwise) and a started
  `ApiClient`, escaped when AP=2.

A test module changes the simulator by overriding `sim_pty` (e.g. parametrized over port
kinds) or with `@pytest.mark.parametrize("sim_pty", [{"ap": 2}], indirect=True)`. Test
modules keep unique basenames: pytest's default import mode puts each folder on sys.path.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.capture import Capture, CaptureWriter, read_capture
from harness.device.api import ApiClient
from harness.device.command import CommandMode
from harness.device.transport import Tap, open_device
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer

pytest_plugins = ["pytester"]

@dataclass
class SimOnPort:
    """A simulator started for one test: the spec to open, and the server behind it."""

    path: str  # a pty path, or a socket:// / rfc2217:// URL
    server: SimServer[Modem]

    @property
    def modem(self) -> Modem:
        return self.server.modem

    def param(self, name: str) -> Any:
        """The module's current value of an AT parameter, read on the server's thread."""
        return self.server.call(lambda m: m.param(name))

    def seconds(self, name: str, unit: float) -> float:
        """A time parameter (GT in ms, CT in 100 ms) as real seconds at the server's scale."""
        return float(self.param(name)) * unit * self.server.time_scale


def fast_personality(name: str, registering_s: float) -> personality_mod.Personality:
    """A copy of a shipped personality that registers in about `registering_s` (the loaded
    one is cached and shared: change a copy)."""
    p = copy.copy(personality_mod.load(name))
    times = {"initializing_s": 0.05, "registering_s": registering_s, "connecting_s": 0.05}
    p.registration = p.registration.model_copy(update=times)
    return p


def _serve(port: str, server: SimServer[Modem]) -> str:
    if port == "pty":
        return server.start_pty()
    if port == "socket":
        return "socket://{}:{}".format(*server.start_tcp())
    if port == "rfc2217":
        return "rfc2217://{}:{}".format(*server.start_rfc2217())
    raise ValueError(f"port {port!r} is not pty, socket or rfc2217")


@pytest.fixture
def stubborn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers started in this process keep each connection open after answering (a
    keep-alive server that ignores the client's `Connection: close`): what leaves a module's
    socket open after a test (A-LEFTOVER)."""
    from harness.servers import http as http_servers

    answer = http_servers._Handler._answer

    def keep_open(self: Any, body_in: bytes, *, head: bool = False) -> None:
        answer(self, body_in, head=head)
        self.close_connection = False

    monkeypatch.setattr(http_servers._Handler, "_answer", keep_open)


@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimOnPort]]:
    """`start_sim(personality, ap=, nvm=, flash=, port="pty", hosts=, routes=, ...)`;
    `registering_s` makes a copy of the personality that registers that fast; every simulator
    started is stopped after the test."""
    started: list[SimServer[Modem]] = []

    def start(
        personality: Any = personality_mod.DEFAULT,
        *,
        ap: int | None = None,
        nvm: dict[str, Any] | None = None,
        flash: Any = None,
        features: list[Any] | None = None,
        registering_s: float | None = None,
        port: str = "pty",
        hosts: dict[str, str] | None = None,
        routes: dict[str, str] | None = None,
        loopback_direct: bool = False,
        time_scale: float = 1.0,
        uart_pacing: bool = True,
    ) -> SimOnPort:
        if registering_s is not None:
            personality = fast_personality(personality, registering_s)
        modem = Modem(personality, nvm=nvm, ap=ap, flash=flash, features=features)
        net = Network(NetworkConfig(hosts=hosts or {}, routes=routes or {},
                                    loopback_direct=loopback_direct))
        server = SimServer(modem, net, time_scale=time_scale, uart_pacing=uart_pacing)
        started.append(server)
        return SimOnPort(_serve(port, server), server)

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def sim_pty(request: pytest.FixtureRequest, start_sim: Callable[..., SimOnPort]) -> SimOnPort:
    """One simulator; `request.param` (indirect) holds `start_sim`'s keywords. A test that
    takes `api_client` gets AP=1 unless it says otherwise."""
    params = dict(getattr(request, "param", None) or {})
    if "api_client" in request.fixturenames:
        params.setdefault("ap", 1)
    return start_sim(**params)


@dataclass
class Terminal:
    """A module opened through the harness's own transport, with its wire capture."""

    tap: Tap
    capture: CaptureWriter
    sim: SimOnPort

    @property
    def capture_path(self) -> Path:
        return Path(self.capture.path)

    def finish(self) -> Capture:
        """Close the capture (the tap stays open until teardown) and read it back."""
        self.capture.close()
        return read_capture(self.capture.path)


@dataclass
class CommandTerminal(Terminal):
    cm: CommandMode


@dataclass
class ApiTerminal(Terminal):
    client: ApiClient

    def finish(self) -> Capture:
        self.client.close()
        return super().finish()


def _open(
    request: pytest.FixtureRequest, tmp_path: Path, sim: SimOnPort
) -> tuple[Tap, CaptureWriter]:
    cap = CaptureWriter(tmp_path / "cap.jsonl", test=request.node.nodeid, device=sim.path)
    return open_device(sim.path, capture=cap), cap


@pytest.fixture
def command_terminal(
    request: pytest.FixtureRequest, tmp_path: Path, sim_pty: SimOnPort
) -> Iterator[CommandTerminal]:
    tap, cap = _open(request, tmp_path, sim_pty)
    cm = CommandMode(tap, guard_time=sim_pty.seconds("GT", 0.001),
                     command_timeout=sim_pty.seconds("CT", 0.1))
    yield CommandTerminal(tap, cap, sim_pty, cm)
    tap.close()
    cap.close()


@pytest.fixture
def api_client(
    request: pytest.FixtureRequest, tmp_path: Path, sim_pty: SimOnPort
) -> Iterator[ApiTerminal]:
    tap, cap = _open(request, tmp_path, sim_pty)
    client = ApiClient(tap, escaped=sim_pty.param("AP") == 2).start()
    yield ApiTerminal(tap, cap, sim_pty, client)
    client.close()
    tap.close()
    cap.close()


# ----- the harness's own tests never write into the repository's reports/ (issue 14) ---------

REPO_REPORTS = Path(__file__).resolve().parents[1] / "reports"


def _reports_state() -> dict[str, int]:
    """Every path under the repository's reports/ with its modification time."""
    if not REPO_REPORTS.is_dir():
        return {}
    return {str(p.relative_to(REPO_REPORTS)): p.stat().st_mtime_ns for p in REPO_REPORTS.rglob("*")}


@pytest.fixture(scope="session", autouse=True)
def _nothing_written_into_reports() -> Iterator[None]:
    """reports/ is the suites' output (`pytest suites/`, `tox -e suites`): a test of the harness
    that writes there (its stats.jsonl, a matrix, allure-results) overwrites a user's run.
    The last test's teardown fails naming what was written. (A suites run started in the same
    work tree at the same time would be named too.)"""
    before = _reports_state()
    yield
    after = _reports_state()
    written = sorted(name for name, mtime in after.items() if before.get(name) != mtime)
    assert not written, f"a test wrote into {REPO_REPORTS}: {', '.join(written)}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """labgrid's pytest plugin (installed with the `labgrid` extra, tox -e tests) starts its
    process-wide StepLogger in `pytest_configure` and asserts it was not started
    (`labgrid/pytestplugin/hooks.py`, `labgrid/logging.py` `StepLogger.start`): every in-process
    pytester run of these tests would stop with an internal error. The harness's own tests use
    no labgrid step log, so the outer run's is stopped here (each inner run starts and stops
    its own) and started again at the end, for labgrid's own cleanup to stop."""
    steps = sys.modules.get("labgrid.logging")
    logger = getattr(steps, "StepLogger", None)
    if logger is not None and getattr(logger, "_started", False):
        logger.stop()
        session.config.add_cleanup(logger.start)
