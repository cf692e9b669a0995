"""pytest-xdist: each device is one worker's for the whole run, so N devices run N-wide
(harness/pytest_plugin/xdist_support.py, A-XDIST-DEVICE-GROUP)."""

from __future__ import annotations

import json
import os

import pytest

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly")
DEVICES = ("--device", "sim", "--device", "sim:ltem-11415")
# Each test says which worker ran it with which device; the tests use the device spec only
# (no port is opened), so the run is about scheduling alone.
WHO_RAN = """
import json, os

def _say(tmp, spec, name):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    with open({out!r}, "a", encoding="utf-8") as f:
        f.write(json.dumps({{"worker": worker, "device": spec.raw, "test": name}}) + "\\n")

{tests}

def test_without_a_device():
    pass
"""
ONE = "def test_{n}(xbee_device_spec):\n    _say(None, xbee_device_spec, 'test_{n}')\n"


def run_who_ran(pytester: pytest.Pytester, *args: str, count: int = 6) -> list[dict]:
    out = pytester.path / "who.jsonl"
    tests = "\n".join(ONE.format(n=n) for n in range(count))
    pytester.makepyfile(test_who=WHO_RAN.format(out=str(out), tests=tests))
    result = pytester.runpytest_subprocess(*ARGS, *args)
    assert result.ret == 0, result.stdout.str()[-3000:]
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_two_devices_with_two_workers_each_device_stays_on_one_worker(pytester: pytest.Pytester):
    ran = run_who_ran(pytester, *DEVICES, "-n", "2")
    by_device: dict[str, set[str]] = {}
    for row in ran:
        by_device.setdefault(row["device"], set()).add(row["worker"])
    assert len(ran) == 12
    assert sorted(by_device) == ["sim", "sim:ltem-11415"]
    assert all(len(workers) == 1 for workers in by_device.values()), by_device
    # two devices, two workers: one each, side by side
    assert by_device["sim"] != by_device["sim:ltem-11415"], by_device


def test_one_device_is_one_workers_even_with_more_workers(pytester: pytest.Pytester):
    ran = run_who_ran(pytester, "--device", "sim", "-n", "2")
    assert len(ran) == 6
    assert len({row["worker"] for row in ran}) == 1, ran


def test_a_dist_mode_the_user_chose_is_kept(pytester: pytest.Pytester):
    """`--dist load` is the user's choice and stays; without one the run is `loadgroup`,
    scheduled by the plugin's scheduler."""
    pytester.makepyfile(
        conftest="def pytest_sessionstart(session):\n"
        "    if not hasattr(session.config, 'workerinput'):\n"
        "        print(f'dist={session.config.option.dist};')\n"
    )
    out = pytester.path / "who.jsonl"
    pytester.makepyfile(test_who=WHO_RAN.format(out=str(out), tests=ONE.format(n=0)))
    chosen = pytester.runpytest_subprocess(
        *ARGS, "--device", "sim", "-n", "2", "--dist", "load", "-s", "-v"
    )
    assert chosen.ret == 0
    chosen.stdout.fnmatch_lines(["*dist=load;*", "*scheduling tests via LoadScheduling*"])
    default = pytester.runpytest_subprocess(*ARGS, "--device", "sim", "-n", "2", "-s", "-v")
    assert default.ret == 0
    default.stdout.fnmatch_lines(
        ["*dist=loadgroup;*", "*scheduling tests via DeviceGroupScheduling*"]
    )


def test_node_ids_are_those_of_a_serial_run(pytester: pytest.Pytester):
    """The groups travel beside the ids: no `@group` suffix in what the terminal names."""
    pytester.makepyfile(test_ids="def test_a(xbee_device_spec):\n    pass\n")
    result = pytester.runpytest_subprocess(*ARGS, *DEVICES, "-n", "2", "-v")
    assert result.ret == 0
    assert "PASSED test_ids.py::test_a[sim] " in result.stdout.str() + " "
    assert "@" not in "".join(line for line in result.outlines if "PASSED" in line)


def test_a_dist_mode_that_spreads_a_real_modules_tests_is_said(pytester: pytest.Pytester):
    controller, peripheral = os.openpty()
    try:
        pytester.makepyfile(test_none="def test_a():\n    pass\n")
        (pytester.path / "bench.yaml").write_text("name: my-bench\ndevice: {baud: 9600}\n")
        path = os.ttyname(peripheral)
        bench = ("--device", path, "--profile", "bench.yaml")
        result = pytester.runpytest_subprocess(*ARGS, *bench, "-n", "2", "--dist", "load")
        assert result.ret == 0
        result.stdout.fnmatch_lines(
            [f"*warning: --dist load may give two workers the same module ({path})*"]
        )
        result = pytester.runpytest_subprocess(*ARGS, *bench, "-n", "2")
        assert result.ret == 0
        assert "may give two workers" not in result.stdout.str()
    finally:
        os.close(controller)
        os.close(peripheral)


def test_a_serial_run_without_xdist_has_no_xdist_marks(pytester: pytest.Pytester):
    """`-p no:xdist --strict-markers`: xdist's mark is unknown there, so none is added."""
    pytester.makepyfile(test_one="def test_a(xbee_device_spec):\n    pass\n")
    result = pytester.runpytest_subprocess(*ARGS, "-p", "no:xdist", "--strict-markers")
    assert result.ret == 0, result.stdout.str()[-2000:]
