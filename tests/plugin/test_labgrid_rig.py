"""The suites over labgrid places: a real `labgrid-coordinator` and `labgrid-exporter` on
loopback, two simulators (`xbee-sim --rfc2217`) exported as NetworkSerialPort resources, two
places, `--device labgrid:xbee-0 --device labgrid:xbee-1 -n 2` (tests/plugin/labgridrig.py).

The suites run as `python -m pytest` in a subprocess (so Ctrl-C is a real SIGINT), with
labgrid's own `--lg-coordinator`. Each place is acquired by one worker and released at the
end: after a pass, after a module that does not answer, and after Ctrl-C. `reset: power` is
the place's power driver (labgrid's `simplerest` model, a PDU on loopback).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

if importlib.util.find_spec("labgrid") is None:
    pytest.skip(
        "labgrid is not installed (pip install 'xbee-hil[labgrid]'; tox -e tests and .ci/run "
        "install it)",
        allow_module_level=True,
    )

from harness.profiles import load_profile
from harness.pytest_plugin.labgrid_place import LabgridDevice
from harness.pytest_plugin.session import HilSession, parse_device
from tests.plugin.labgridrig import DEAD, LabgridLab, start_lab

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "suites"
INNER = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:randomly", "-v", "-rA"]  # fmt: skip
# a refused or failed connection is silence in transparent mode: 5 s, not a cellular 30 s
PROFILE_EXTRA = {"device": {"first_byte_timeout": 5}}
WORKER_LINE = re.compile(r"^\[(gw\d+)\] .*?(PASSED|FAILED|ERROR|SKIPPED) .*\[labgrid-(xbee-\d+)-")
# pyserial's RFC 2217 client, used here to ask the module directly, still calls setDaemon()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")


def _env() -> dict[str, str]:
    """The caller's environment without XBEE_* or LG_* settings (the command line says it),
    nor PYTEST_ADDOPTS (a caller's `-p no:labgrid` would take labgrid's pytest plugin away;
    these run as a labgrid user does, with it: `--lg-coordinator`)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("XBEE_", "LG_")) and k != "PYTEST_ADDOPTS"}  # fmt: skip


def _command(lab: LabgridLab, workdir: Path, *args: str) -> list[str]:
    return [*INNER, *args, "--profile", str(lab.profile), "--lg-coordinator", lab.coordinator,
            "--reports-dir", str(workdir / "reports")]  # fmt: skip


def _run(lab: LabgridLab, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(_command(lab, workdir, *args), cwd=workdir, env=_env(),
                          capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabgridLab]:
    running = start_lab(tmp_path_factory.mktemp("labgrid-lab"), 2, dead=True,
                        profile_extra=PROFILE_EXTRA)  # fmt: skip
    try:
        yield running
    finally:
        running.close()


@pytest.mark.timeout(900)  # the whole of suites/ at real time: about 2 minutes on 2 cores
def test_the_suites_run_over_two_places_one_worker_each(
    lab: LabgridLab, tmp_path: Path
) -> None:
    """The whole of suites/ over two places with `-n 2`: every test passes or is skipped for
    its reason, each place's tests ran on one worker and the two places on two, each place
    was acquired and released (its `changed` moved), and both are free at the end."""
    before = {place: lab.changed(place) for place in lab.places}
    run = _run(lab, tmp_path, str(SUITES), *lab.device_args(), "-n", "2")
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.OK, out[-4000:]
    workers: dict[str, set[str]] = {}
    outcomes: dict[str, set[str]] = {}
    for line in run.stdout.splitlines():
        if found := WORKER_LINE.match(line):
            worker, outcome, place = found.groups()
            workers.setdefault(place, set()).add(worker)
            outcomes.setdefault(place, set()).add(outcome)
    assert set(workers) == set(lab.places), out[-4000:]
    assert all(len(w) == 1 for w in workers.values()), workers  # one worker per place
    assert len(set.union(*workers.values())) == 2, workers  # ... and the two places 2-wide
    for place in lab.places:
        assert "PASSED" in outcomes[place] and outcomes[place] <= {"PASSED", "SKIPPED"}
        assert lab.changed(place) != before[place]  # acquired and released during the run
        assert lab.acquired_by(place) is None
    # the controller's matrix has both places' cells, passed where the test ran
    cells = json.loads((tmp_path / "reports" / "matrix.json").read_text(encoding="utf-8"))
    by_place = {p: {c["outcome"] for c in cells["cells"] if c["group"].endswith(f"@ labgrid-{p}")}
                for p in lab.places}  # fmt: skip
    assert all("passed" in outcomes for outcomes in by_place.values()), by_place
    reasons = set(re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", run.stdout, re.M))
    assert not [r for r in reasons if "module broken" in r], reasons


@pytest.mark.timeout(300)
def test_ctrl_c_releases_the_place(lab: LabgridLab, tmp_path: Path) -> None:
    """SIGINT while a test runs: pytest tears the session down, and the place is free."""
    place = lab.places[0]
    captures = tmp_path / "reports" / "captures"
    tmp_path.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        _command(lab, tmp_path, str(SUITES / "test_https.py"), "--device", f"labgrid:{place}"),
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(captures.glob("test_*.jsonl")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            time.sleep(0.1)
        assert list(captures.glob("test_*.jsonl")), "no test started"
        held = lab.acquired_by(place)
        assert held is not None  # the run holds the place while its tests run
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "KeyboardInterrupt" in out
    assert lab.acquired_by(place) is None, out[-3000:]


def test_a_module_that_does_not_answer_stops_the_run_and_frees_the_place(
    lab: LabgridLab, tmp_path: Path
) -> None:
    """The place's serial port refuses: one reason naming the port, the place released."""
    run = _run(lab, tmp_path, str(SUITES / "test_http.py"), "--device", f"labgrid:{DEAD}")
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    port = lab.urls[DEAD]
    assert f"module broken: cannot open {port}: connection refused" in out, out[-3000:]
    assert lab.acquired_by(DEAD) is None


def test_an_unknown_place_is_labgrids_one_line(lab: LabgridLab, tmp_path: Path) -> None:
    run = _run(lab, tmp_path, str(SUITES / "test_http.py"), "--device", "labgrid:no-such")
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert (f"run stopped: module broken: labgrid place no-such (coordinator {lab.coordinator})"
            ": labgrid-client acquire: place pattern no-such matches nothing") in out, out[-3000:]
    assert "Traceback" not in out


def test_reset_power_switches_the_place_off_and_on(lab: LabgridLab, tmp_path: Path) -> None:
    """`reset: power`: the harness's reset is the place's power driver (off, then on, on the
    place's own PDU outlet), and the module answers after it; closing releases the place."""
    assert lab.profile is not None and lab.pdu is not None
    text = lab.profile.read_text(encoding="utf-8").replace("device:\n", "device:\n  reset: power\n")
    path = tmp_path / "power.yaml"
    path.write_text(text, encoding="utf-8")
    profile = load_profile(path)
    assert profile.device.reset.method == "power"
    place = lab.places[1]
    spec = parse_device(f"labgrid:{place}")
    session = HilSession((spec,), profile, ("transparent",), (), 9600, tmp_path / "reports",
                         labgrid_coordinator=lab.coordinator)  # fmt: skip
    device = LabgridDevice.start(spec, profile, session, tmp_path, "fast")
    assert lab.acquired_by(place) is not None
    port = device.open(session, profile, 9600)
    try:
        lab.pdu.switched.clear()
        assert port.configurator.reset() in ("transparent", "api", "api-escaped")
        assert lab.pdu.switched == [(1, 0), (1, 1)]  # place xbee-1's outlet: off, then on
    finally:
        port.close()
    assert lab.acquired_by(place) is None
