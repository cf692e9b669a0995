"""`--device labgrid:PLACE` without a lab: the spec, the coordinator's precedence, the one line
when labgrid is absent, `reset: power` in the profile, and the check that labgrid's pyserial
fork is the `serial` on disk (the lab itself: tests/plugin/test_labgrid_rig.py)."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.profiles import ProfileError, load_profile
from harness.pytest_plugin import labgrid_place
from harness.pytest_plugin.devices import BenchDevice
from harness.pytest_plugin.session import (
    DeviceKind,
    DeviceSpecError,
    HilSession,
    ModuleBroken,
    parse_device,
)

HAVE_LABGRID = labgrid_place.importlib.util.find_spec("labgrid") is not None


def test_a_place_is_its_own_kind_with_a_label() -> None:
    if not HAVE_LABGRID:
        pytest.skip("labgrid is not installed (pip install 'xbee-hil[labgrid]')")
    spec = parse_device("labgrid:bench-3/a")
    assert spec.kind is DeviceKind.LABGRID
    assert spec.target == "bench-3/a"
    assert spec.label == "labgrid-bench-3-a"
    assert not spec.simulated  # a real module: a hardware profile is required


@pytest.mark.parametrize("raw", ["labgrid:", "labgrid: ", "labgrid:two words"])
def test_a_place_needs_a_name(raw: str) -> None:
    with pytest.raises(DeviceSpecError, match="give a labgrid place name"):
        parse_device(raw)


def test_without_labgrid_one_line_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "labgrid", None)  # what find_spec sees when it is absent
    with pytest.raises(DeviceSpecError) as err:
        parse_device("labgrid:rig1")
    assert str(err.value) == (
        "--device labgrid:rig1: labgrid is not installed (pip install 'xbee-hil[labgrid]')"
    )


def test_without_labgrid_the_run_is_a_usage_error_of_one_line(tmp_path: Path) -> None:
    """A real pytest process where `labgrid` cannot be imported: exit 4, one line, no trace."""
    (tmp_path / "test_one.py").write_text("def test_one(xbee_port):\n    pass\n")
    code = textwrap.dedent(f"""
        import sys

        class NoLabgrid:  # as if it were not installed: no finder finds it
            @staticmethod
            def find_spec(name, path=None, target=None):
                if name == "labgrid" or name.startswith("labgrid."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
                return None

        sys.meta_path.insert(0, NoLabgrid)
        import pytest
        sys.exit(pytest.main(["-p", "no:labgrid", "-p", "no:cacheprovider", "-q", "--assert=plain",
                              "--device", "labgrid:rig1", "--profile", "cat1-att",
                              "--reports-dir", {str(tmp_path / "reports")!r}, "test_one.py"]))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if "labgrid" in line]
    assert lines == [
        "ERROR: xbee-hil: --device labgrid:rig1: labgrid is not installed "
        "(pip install 'xbee-hil[labgrid]')"
    ], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_the_coordinator_is_labgrids_option_then_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LG_COORDINATOR", raising=False)
    assert labgrid_place.coordinator(None) == "127.0.0.1:20408"  # labgrid-client's default
    monkeypatch.setenv("LG_COORDINATOR", "lab.example:20408")
    assert labgrid_place.coordinator(None) == "lab.example:20408"
    assert labgrid_place.coordinator("other:1") == "other:1"  # --lg-coordinator wins


def test_reset_power_is_a_profile_reset(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: rig\ndevice:\n  reset: power\n", encoding="utf-8")
    assert load_profile(path).device.reset.method == "power"
    path.write_text("name: rig\ndevice:\n  reset: relay\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"device\.reset"):
        load_profile(path)


def test_reset_power_on_a_port_without_a_switch_says_so(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: rig\ndevice:\n  reset: power\n", encoding="utf-8")
    profile = load_profile(path)
    spec = parse_device("rfc2217://127.0.0.1:7000")
    session = HilSession((spec,), profile, ("transparent",), (), 9600, tmp_path)
    with pytest.raises(ModuleBroken, match=r"`reset: power` needs a power switch: a labgrid"):
        BenchDevice.start(spec, profile, session, tmp_path, "fast")


def _fake_fork(root: Path, content: bytes, recorded: bytes) -> None:
    """A `pyserial-labgrid` distribution whose RECORD hashes `recorded`, and a
    serial/rfc2217.py holding `content` (what another install may have written over it)."""
    info = root / "pyserial_labgrid-3.5.0.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pyserial-labgrid\n"
                                   "Version: 3.5.0.2\n")  # fmt: skip
    digest = base64.urlsafe_b64encode(hashlib.sha256(recorded).digest()).rstrip(b"=").decode()
    (info / "RECORD").write_text(f"serial/rfc2217.py,sha256={digest},{len(recorded)}\n")
    (root / "serial").mkdir()
    (root / "serial" / "rfc2217.py").write_bytes(content)


def test_the_fork_overwritten_by_pyserial_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_fork(tmp_path, b"# pyserial 3.5\n", b"# the fork\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert labgrid_place.serial_fork_issue() == (
        "pyserial-labgrid is installed but serial/rfc2217.py is not its file (pyserial was "
        "installed over it): labgrid's RFC 2217 fixes are off; "
        "pip install --force-reinstall --no-deps pyserial-labgrid"
    )


def test_the_forks_own_files_are_no_issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_fork(tmp_path, b"# the fork\n", b"# the fork\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert labgrid_place.serial_fork_issue() is None


def test_reset_power_on_the_simulator_is_its_power_cycle(tmp_path: Path) -> None:
    """The simulator has a switch too: with `reset: power` the harness's reset is the
    simulator's power cycle, not `ATFR` (the session capture says which)."""
    from harness.capture import read_capture
    from harness.profiles import find_profile
    from harness.pytest_plugin.devices import SimulatorDevice

    text = find_profile("sim").read_text(encoding="utf-8").replace("reset: at", "reset: power")
    path = tmp_path / "sim-power.yaml"
    path.write_text(text, encoding="utf-8")
    profile = load_profile(path)
    spec = parse_device("sim")
    session = HilSession((spec,), profile, ("transparent",), (), 9600, tmp_path / "reports")
    device = SimulatorDevice.start(spec, profile, session, tmp_path, "fast")
    port = device.open(session, profile, 9600)
    try:
        port.configurator.reset()
    finally:
        port.close()
    assert port.session_capture is not None
    resets = [e for e in read_capture(port.session_capture.path).events if e.get("ev") == "reset"]
    assert [e.get("how") for e in resets] == ["power"]


def test_a_run_without_a_place_never_imports_the_labgrid_module() -> None:
    """The plugin, the device kinds and a `sim` spec leave labgrid_place (and labgrid) alone."""
    code = (
        "import sys\n"
        "import harness.pytest_plugin.plugin, harness.pytest_plugin.devices\n"
        "from harness.pytest_plugin.session import parse_device\n"
        "parse_device('sim'); parse_device('rfc2217://127.0.0.1:7000')\n"
        "print(sorted(m for m in sys.modules if 'labgrid' in m))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"


class _EnvPlace(labgrid_place.Place):
    """A place whose `labgrid-client env` printed `text` (the shape labgrid 26.0.1 prints:
    `targets: {PLACE: {resources: [{Class: {args}}]}}`); the lab itself is in
    tests/plugin/test_labgrid_rig.py."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(name, "127.0.0.1:20408")
        self.text = text

    def client(self, *args: str) -> str:
        assert args == ("env",)
        return self.text


ENV = """targets:
  rig-a:
    resources:
    - NetworkPowerPort: {model: gude, index: 3, host: pdu.example}
{ports}"""
RFC2217 = "    - NetworkSerialPort: {host: bench-a, port: 40001, protocol: rfc2217, speed: 9600}\n"


@pytest.mark.parametrize(
    ("ports", "found"),
    [
        (RFC2217, ("rfc2217://bench-a:40001", 9600)),
        ("    - NetworkSerialPort: {host: 'fe80::1', port: 7, protocol: raw, speed: 115200}\n",
         ("socket://[fe80::1]:7", 115200)),
    ],
)  # fmt: skip
def test_the_places_serial_port_is_a_pyserial_url(ports: str, found: tuple[str, int]) -> None:
    assert _EnvPlace("a", ENV.replace("{ports}", ports)).serial_url() == found  # "a": an alias


@pytest.mark.parametrize(
    ("ports", "words"),
    [
        ("", "no NetworkSerialPort among its resources (NetworkPowerPort); export the module's"),
        (RFC2217 + RFC2217.replace("{host", "{name: second, host"),
         "2 NetworkSerialPorts (NetworkSerialPort, second); a place for xbee-hil holds one"),
        (RFC2217.replace("rfc2217,", "ssh,"), "NetworkSerialPort protocol 'ssh' (rfc2217 or raw)"),
    ],
)  # fmt: skip
def test_a_place_without_one_usable_serial_port_says_what_it_has(ports: str, words: str) -> None:
    with pytest.raises(labgrid_place.PlaceError, match=re.escape(words)):
        _EnvPlace("rig-a", ENV.replace("{ports}", ports)).serial_url()
