"""Issues 13 and 14: the plugin is imported into every pytest run of the environment, so its
import must be light (A-LAZY-PLUGIN). What the hooks need before the gate opens (options,
markers, the gate, aliases) imports no device layer, simulator, cryptography, h11, pydantic,
allure, pyserial, digi-xbee, servers or replay; those load when the run uses the plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# What the plugin's import must not pull in (a module or any of its submodules).
HEAVY = (
    "cryptography",
    "h11",
    "pydantic",
    "pydantic_core",
    "serial",
    "digi.xbee",  # (the bare `digi` namespace is made at startup by digi-xbee's .pth file)
    "allure",
    "allure_commons",
    "yaml",
    "harness.sim",
    "harness.device.transport",
    "harness.device.command",
    "harness.device.api",
    "harness.device.module",
    "harness.device.configure",
    "harness.device.http",
    "harness.device.files",
    "harness.servers",
    "harness.replay",
    "harness.capture",
    "harness.profiles.schema",
    "harness.profiles.load",
    "harness.report.attach",
    "harness.pytest_plugin.port",
    "harness.pytest_plugin.devices",
    "harness.pytest_plugin.configured",
    "harness.pytest_plugin.controls",
    "harness.pytest_plugin.simrig",
)

PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    import harness.pytest_plugin.plugin as plugin
    for name in plugin.pytest_plugins:  # what pytest registers with the entry point
        importlib.import_module(name)
    print(json.dumps(sorted(sys.modules)))
    """
)


def heavy_in(modules: list[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)]


def test_plugin_entry_and_hooks_import_no_heavy_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = json.loads(out)
    assert "harness.pytest_plugin.hooks" in loaded  # the probe did load the hooks
    assert heavy_in(loaded) == []


UNRELATED_TEST = """
import json, sys

def test_one():
    assert 1 + 1 == 2

def test_zz_modules(pytestconfig):
    (pytestconfig.rootpath / "modules.json").write_text(json.dumps(sorted(sys.modules)))
"""


def _modules_of_a_run(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)
    result.assert_outcomes(passed=2)
    return json.loads((pytester.path / "modules.json").read_text())


def test_unrelated_project_run_loads_no_heavy_module(pytester: pytest.Pytester) -> None:
    """A whole pytest run of a project that does not use xbee-hil, with the plugin installed:
    the gate stays shut and nothing heavy is imported on the plugin's account. Other plugins
    installed beside it import what they import (allure-pytest imports allure; labgrid's
    plugin, with the `labgrid` extra, imports pyserial and PyYAML): the same run with
    `-p no:xbee_hil` is the baseline, and only what the plugin adds to it counts."""
    pytester.makepyfile(test_unrelated=UNRELATED_TEST)
    baseline = set(_modules_of_a_run(pytester, "-p", "no:xbee_hil"))
    assert "harness.pytest_plugin.hooks" not in baseline  # the baseline really is without it
    loaded = _modules_of_a_run(pytester)
    assert "harness.pytest_plugin.hooks" in loaded  # the plugin was there
    assert heavy_in([m for m in loaded if m not in baseline]) == []
