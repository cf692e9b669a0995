"""Issue 14, "a good citizen": installed, the plugin changes nothing for a run that does not
use it; its options are `--xbee-*`, with the short forms only where no other plugin owns
them; values come from the command line, else XBEE_*, else the ini file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
BROKEN_PROFILE = "name: broken\ndevcie:\n  baud: 12\n"


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest's assertion rewriting writes __pycache__ in the project: not the plugin's doing,
    kept out so "nothing written" is exact."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    for name in ("XBEE_DEVICE", "XBEE_PROFILE", "XBEE_BAUD", "XBEE_MODE", "XBEE_REPORTS_DIR"):
        monkeypatch.delenv(name, raising=False)


def tree(root: Path) -> list[str]:
    """Every path under root but pytester's own files of a subprocess run (its --basetemp,
    the captured stdout and stderr)."""
    paths = (p.relative_to(root) for p in root.rglob("*"))
    ours = ("runpytest-", "stdout", "stderr")
    return sorted(str(p) for p in paths if not p.parts[0].startswith(ours))


# ----- an unrelated project --------------------------------------------------------------------

UNRELATED = """
import pytest

@pytest.fixture
def http_target():          # the project's own fixtures, by names the plugin also has
    return "http://example.test/"

@pytest.fixture
def xbee():
    return "its own XBee"

@pytest.mark.requires("network")   # a marker of its own, by a name the plugin also has
def test_its_own(http_target, xbee, tmp_path):
    assert http_target.startswith("http") and xbee == "its own XBee"

def test_plain():
    assert 1 + 1 == 2
"""


def test_an_unrelated_project_runs_unchanged_and_writes_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its tests pass; no reports/, no file at all; the profile the environment names (a
    broken one) is never loaded, and neither is the device it names."""
    pytester.makeini("[pytest]\nmarkers =\n    requires: the project's own\n")
    (pytester.path / "broken.yaml").write_text(BROKEN_PROFILE)
    monkeypatch.setenv("XBEE_PROFILE", str(pytester.path / "broken.yaml"))
    monkeypatch.setenv("XBEE_DEVICE", "/dev/no-such-xbee")
    pytester.makepyfile(test_project=UNRELATED)
    before = tree(pytester.path)
    result = pytester.runpytest(*ARGS, "--strict-markers")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    assert tree(pytester.path) == before  # no reports/, stats.jsonl, matrix, allure-results
    assert "xbee-hil:" not in result.stdout.str() + result.stderr.str()


def test_an_unrelated_project_under_xdist_writes_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "broken.yaml").write_text(BROKEN_PROFILE)
    monkeypatch.setenv("XBEE_PROFILE", str(pytester.path / "broken.yaml"))
    pytester.makepyfile(test_project="def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    before = tree(pytester.path)
    result = pytester.runpytest_subprocess(*ARGS, "-n", "2")
    result.assert_outcomes(passed=2)
    assert tree(pytester.path) == before


# ----- a test that uses the plugin opens it --------------------------------------------------


def test_an_xbee_fixture_opens_the_gate_without_any_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xbee_profile):\n    assert xbee_profile.label == 'sim'\n")
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1)
    assert (pytester.path / "reports" / "stats.jsonl").is_file()


def test_a_plugin_marker_alone_opens_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n\n@pytest.mark.hardware_only\ndef test_x():\n    pass\n")
    result = pytester.runpytest(*ARGS, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*hardware_only: --device sim is not a real module*"])


def test_a_broken_profile_met_at_collection_is_one_usage_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened by a test's fixture (no option given), a broken profile still stops the run
    before any test, as one line."""
    (pytester.path / "broken.yaml").write_text(BROKEN_PROFILE)
    monkeypatch.setenv("XBEE_PROFILE", "broken.yaml")
    pytester.makepyfile("def test_x(xbee_mode):\n    pass\n")
    result = pytester.runpytest(*ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: xbee-hil: broken.yaml:2:*devcie*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "passed" not in result.stdout.str()


# ----- other plugins that own the short names ------------------------------------------------

STANDIN = """
def pytest_addoption(parser):
    group = parser.getgroup("standin", "a plugin that owns the short names")
    group.addoption("--device", dest="standin_device", help="the stand-in's device")
    group.addoption("--baud", dest="standin_baud", help="the stand-in's baud")
    parser.addoption("--profile", dest="standin_profile", action="store_true", help="profiling")
    parser.addoption("--record", dest="standin_record", help="the stand-in's recording")
"""

BESIDE = """
def test_both(request, xbee_device_spec, xbee_profile, xbee_baud, xbee_record_dir):
    assert request.config.getoption("standin_device") == "chromium-phone"
    assert request.config.getoption("standin_baud") == "115200"
    assert request.config.getoption("standin_profile") is True
    assert request.config.getoption("standin_record") == "tape"
    assert xbee_device_spec.raw == "sim:ltem-11415"
    assert xbee_profile.label == "sim-ltem"
    assert xbee_baud == 9600
    assert xbee_record_dir is not None and xbee_record_dir.name == "cassettes"
"""


@pytest.fixture(params=["-p module", "conftest"])
def standin(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> tuple[str, ...]:
    """The stand-in plugin loaded before the plugin's options (-p) or after them (an initial
    conftest, loaded after every entry point)."""
    if request.param == "conftest":
        pytester.makeconftest(STANDIN)
        return ()
    pytester.makepyfile(standin_plugin=STANDIN)
    pytester.syspathinsert()
    return ("-p", "standin_plugin")


def test_other_plugins_owning_the_short_names_do_not_stop_help(
    pytester: pytest.Pytester, standin: tuple[str, ...]
) -> None:
    result = pytester.runpytest(*ARGS, *standin, "--help")
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "the stand-in's device" in out and "--xbee-device" in out and "--xbee-record" in out
    assert "= --xbee-mode" in out  # a short form no one else owns is still an alias
    line = [x for x in result.stderr.lines if x.startswith("xbee-hil: warning:")]
    assert len(line) == 1, result.stderr.str()
    for name in ("--device", "--baud", "--profile", "--record"):
        assert name in line[0] and f"--xbee-{name[2:]}" in line[0]
    assert "--mode" not in line[0]


def test_the_xbee_options_work_beside_the_other_plugins(
    pytester: pytest.Pytester, standin: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_beside=BESIDE)
    result = pytester.runpytest(
        *ARGS, *standin, "--device", "chromium-phone", "--baud", "115200", "--profile",
        "--record", "tape", "--xbee-device", "sim:ltem-11415", "--xbee-profile", "sim-ltem",
        "--xbee-record", "cassettes", "--mode", "api",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    assert result.stderr.str().count("xbee-hil: warning:") == 1


def test_the_short_forms_are_aliases_when_free(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_x(xbee_device_spec, xbee_profile):\n"
        "    assert xbee_device_spec.target == 'ltem-11415'\n"
        "    assert xbee_profile.label == 'sim-ltem'\n"
    )
    result = pytester.runpytest(*ARGS, "--device", "sim:ltem-11415", "--profile", "sim-ltem")
    result.assert_outcomes(passed=1)
    assert "xbee-hil: warning" not in result.stderr.str()


# ----- command line > environment > ini ------------------------------------------------------

PRECEDENCE = """
def test_values(xbee_profile, xbee_mode, xbee_reports_dir, xbee_baud):
    print("PROFILE", xbee_profile.label, "MODE", xbee_mode, "BAUD", xbee_baud)
    print("REPORTS", xbee_reports_dir)
"""


@pytest.mark.parametrize(
    ("env", "argv", "profile", "modes", "baud"),
    [
        ({}, (), "sim-ltem", ["api"], 19200),  # the ini alone
        ({"XBEE_PROFILE": "sim", "XBEE_MODE": "transparent api-escaped"}, (), "sim",
         ["transparent", "api-escaped"], 19200),  # the environment over the ini
        ({"XBEE_PROFILE": "sim", "XBEE_BAUD": "38400"},
         ("--xbee-profile", "sim-ltem", "--baud", "57600"), "sim-ltem", ["api"], 57600),
    ],
    ids=["ini", "env-over-ini", "command-line-over-env"],
)  # fmt: skip
def test_command_line_over_environment_over_ini(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    argv: tuple[str, ...],
    profile: str,
    modes: list[str],
    baud: int,
) -> None:
    (pytester.path / "sub").mkdir()
    (pytester.path / "sub" / "pytest.ini").write_text(
        "[pytest]\nxbee_profile = sim-ltem\nxbee_mode = api\nxbee_baud = 19200\n"
        "xbee_reports_dir = out/reports\n"
    )
    (pytester.path / "sub" / "test_values.py").write_text(PRECEDENCE)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest(*ARGS, "-s", "-c", "sub/pytest.ini", "sub", *argv)
    result.assert_outcomes(passed=len(modes))
    out = result.stdout.str()
    for mode in modes:
        assert f"PROFILE {profile} MODE {mode} BAUD {baud}" in out
    # an ini file's paths are relative to it (A-CITIZEN-INI)
    assert f"REPORTS {pytester.path / 'sub' / 'out' / 'reports'}" in out


def test_an_ini_key_alone_opens_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxbee_reports_dir = elsewhere\n")
    pytester.makepyfile("def test_plain():\n    pass\n")
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)
    assert (pytester.path / "elsewhere").is_dir()
    assert not (pytester.path / "reports").exists()


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("XBEE_BAUD", "fast", "XBEE_BAUD=fast: not a number"),
        ("XBEE_MODE", "api turbo", "XBEE_MODE=api turbo: turbo is not one of transparent"),
        ("XBEE_ALLOW_NVM_WRITE", "maybe", "XBEE_ALLOW_NVM_WRITE=maybe: expected true or false"),
    ],
)
def test_a_bad_environment_value_is_one_usage_line_naming_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    pytester.makepyfile("def test_x(xbee_profile):\n    pass\n")
    result = pytester.runpytest(*ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: xbee-hil: {words}" in result.stderr.str()


def test_a_short_form_value_is_not_taken_for_a_test_path(pytester: pytest.Pytester) -> None:
    """pytest's early parse (before the aliases exist) reads `--record cassettes`'s folder as
    a test path; given back, the initial conftests still come from testpaths (a
    `pytest_plugins` there is only allowed in an initial conftest)."""
    (pytester.path / "cassettes").mkdir()
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text('pytest_plugins = ["pytester"]\n')
    (pytester.path / "tests" / "test_x.py").write_text(
        "def test_x(xbee_device_spec):\n    assert xbee_device_spec.raw == 'sim:ltem-11415'\n"
    )
    result = pytester.runpytest_subprocess(
        *ARGS, "--device", "sim:ltem-11415", "--record", "cassettes"
    )
    result.assert_outcomes(passed=1)


# ----- Allure, when the gate opens during collection -----------------------------------------

ALLURE_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # allure-pytest on


def test_a_run_opened_by_a_fixture_still_writes_its_allure_results(
    pytester: pytest.Pytester,
) -> None:
    """No option given: allure-pytest configured without a results folder, and the gate
    starts its listener when the first test is collected (gate.start_allure);
    --clean-alluredir is honoured."""
    stale = pytester.path / "reports" / "allure-results" / "stale-result.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    pytester.makepyfile("def test_x(xbee_profile):\n    pass\n")
    result = pytester.runpytest_subprocess(*ALLURE_ARGS, "--clean-alluredir")
    result.assert_outcomes(passed=1)
    results = list(stale.parent.glob("*-result.json"))
    assert [p.read_text().count('"name": "test_x"') for p in results] == [1]
    assert (stale.parent / "environment.properties").is_file()


def test_under_xdist_the_controller_opens_when_a_worker_has(pytester: pytest.Pytester) -> None:
    """The controller collects nothing: the workers' reports open its gate, so its session
    exists for the run's end (here: the Allure environment it writes)."""
    pytester.makepyfile("def test_x(xbee_profile):\n    pass\n\ndef test_y(xbee_mode):\n    pass\n")
    result = pytester.runpytest_subprocess(*ALLURE_ARGS, "-n", "2")
    result.assert_outcomes(passed=4)
    results = pytester.path / "reports" / "allure-results"
    assert len(list(results.glob("*-result.json"))) == 4
    assert (results / "environment.properties").is_file()


def test_a_bad_device_from_the_environment_says_where_it_came_from(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBEE_DEVICE", "/dev/no-such-xbee")
    monkeypatch.setenv("XBEE_PROFILE", "cat1-att")
    pytester.makepyfile("def test_x(xbee_port):\n    pass\n")
    result = pytester.runpytest(*ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: xbee-hil: --device /dev/no-such-xbee: no such serial device*(from XBEE_DEVICE)"]
    )
