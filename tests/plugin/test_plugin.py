"""The pytest plugin, run by pytester: options, profile errors, axes, markers, broken stop."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ONE_TEST = "def test_never_runs():\n    pass\n"
# Inner runs skip hypothesis's plugin: it imports hypothesis at session end (about 1 s a run).
ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


@pytest.fixture
def pty_path() -> Iterator[str]:
    """A real serial-like device path (a pseudo-terminal) for `--device PATH`."""
    controller, peripheral = os.openpty()
    try:
        yield os.ttyname(peripheral)
    finally:
        os.close(controller)
        os.close(peripheral)


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


# ----- a bad profile stops the run -----------------------------------------------------------

# (profile text, line, key, words of the message). Each is a mistake a person makes.
MALFORMED = {
    "unknown-key": ("name: x\ndevcie:\n  baud: 9600\n", 2, "devcie", "did you mean 'device'"),
    "bad-baud": ("device:\n  baud: 12\n", 2, "device.baud", "not a rate BD can set"),
    "unknown-mode": ("modes: [transparent, API]\n", 1, "modes[1]", "'api-escaped'"),
    "unknown-variant": ("tls_variants:\n  - root_ca\n", 2, "tls_variants[0]", "'root-ca'"),
    "duplicate-key": ("device:\n  baud: 9600\n  baud: 115200\n", 3, "device.baud", "duplicate"),
    "yaml-syntax": ("device:\n  baud: [9600\nmodes: []\n", 3, "", "YAML syntax"),
    "harness-owned": ("baseline:\n  TM: 0x64\n  AP: 1\n", 3, "baseline.AP", "mode axis"),
    "missing-ca-file": (
        "targets:\n  https:\n    url: https://google.com/\n    ca: certs/nope.pem\n",
        4,
        "targets.https.ca",
        "nope.pem",
    ),
    "client-cert-without-key": (
        "targets:\n  m:\n    url: https://x.test/\n    client_cert: bad.yaml\n",
        2,
        "targets.m",
        "client_cert and client_key go together",
    ),
    "secret-env-unset": (
        "network:\n  apn_password: {env: XBEE_HIL_TEST_UNSET_VARIABLE}\n",
        2,
        "network.apn_password",
        "XBEE_HIL_TEST_UNSET_VARIABLE is not set",
    ),
    "reset-command-missing": (
        "device:\n  reset:\n    method: command\n",
        2,
        "device.reset.command",
        "required key is missing",
    ),
    "extends-missing": ("extends: base.yaml\nname: x\n", 1, "extends", "no such profile"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_profile_stops_the_run_as_a_usage_error(
    pytester: pytest.Pytester, case: str
) -> None:
    text, line, key, words = MALFORMED[case]
    profile = pytester.path / "bad.yaml"
    profile.write_text(text, encoding="utf-8")
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest(*ARGS, "--profile", "bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"ERROR: xbee-hil: bad.yaml:{line}:" in err
    assert f": {key}: " in err if key else True
    assert words in err
    assert "Traceback" not in output(result)
    assert "passed" not in result.stdout.str()


def test_an_extends_cycle_names_the_line_that_closes_it(pytester: pytest.Pytester) -> None:
    (pytester.path / "a.yaml").write_text("extends: b.yaml\n")
    (pytester.path / "b.yaml").write_text("name: b\nextends: a.yaml\n")
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest(*ARGS, "--profile", "a.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: xbee-hil: b.yaml:2:1: extends: cycle: a.yaml -> b.yaml -> a.yaml"]
    )


def test_a_real_module_needs_a_profile(pytester: pytest.Pytester, pty_path: str) -> None:
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest(*ARGS, "--device", pty_path)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: xbee-hil: --profile is required with a real module*{pty_path}*"]
    )


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("sim:cat1-9999", "no simulator personality 'cat1-9999'"),
        ("telnet://bench:23", "unknown URL scheme 'telnet'"),
        ("replay:no/such/capture.jsonl", "no capture file or cassette directory"),
        ("/dev/xbee-hil-no-such-port", "no such serial device"),
    ],
)
def test_a_bad_device_spec_is_a_usage_error(
    pytester: pytest.Pytester, device: str, words: str
) -> None:
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest(*ARGS, "--device", device, "--profile", "sim")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert words in result.stderr.str()
    assert "Traceback" not in output(result)


def test_a_mode_the_profile_does_not_allow_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "api-only.yaml").write_text("modes: [api]\n")
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest(*ARGS, "--profile", "api-only.yaml", "--mode", "transparent")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--mode transparent: profile api-only" in result.stderr.str()
    assert "allows only api" in result.stderr.str()


def test_help_lists_the_option_group_even_with_a_bad_profile(pytester: pytest.Pytester) -> None:
    (pytester.path / "bad.yaml").write_text("nope: 1\n")
    result = pytester.runpytest("--profile", "bad.yaml", "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["xbee-hil: Digi XBee3 Cellular*", "*--device=SPEC*", "*--tls-variant=NAME*"]
    )


# ----- options are fixtures ------------------------------------------------------------------


def test_options_reach_their_fixtures(pytester: pytest.Pytester, pty_path: str) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "bench.yaml").write_text(
        "name: my-bench\ndevice: {baud: 9600}\nnvm: {params: [BD]}\n"
    )
    pytester.makepyfile(
        f"""
        from pathlib import Path

        def test_options(xbee_device_spec, xbee_profile, xbee_baud, xbee_record_dir,
                         xbee_allow_nvm_write, xbee_reports_dir, xbee_hil_session):
            assert xbee_device_spec.raw == {pty_path!r}
            assert not xbee_device_spec.simulated
            assert xbee_profile.label == "my-bench"
            assert xbee_profile.nvm.params == ["BD"]
            assert xbee_baud == 115200
            assert xbee_record_dir == Path.cwd() / "captures"
            assert xbee_allow_nvm_write is True
            assert xbee_reports_dir == Path.cwd() / "out"
            assert xbee_hil_session.alluredir == Path.cwd() / "out" / "allure-results"
        """
    )
    result = pytester.runpytest(
        *ARGS, "--device", pty_path, "--profile", "bench", "--baud", "115200",
        "--record", "captures", "--allow-nvm-write", "--reports-dir", "out",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_defaults_are_the_simulator_and_its_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_defaults(xbee_device_spec, xbee_profile, xbee_baud, xbee_record_dir,
                          xbee_allow_nvm_write, xbee_hil_session):
            assert xbee_device_spec.raw == "sim" and xbee_device_spec.simulated
            assert xbee_profile.label == "sim"
            assert xbee_hil_session.personality(xbee_device_spec) == "cat1-3100C"
            assert xbee_baud == 9600
            assert xbee_record_dir is None and xbee_allow_nvm_write is False
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_environment_variables_choose_device_and_profile(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBEE_DEVICE", "sim:ltem-11415")
    monkeypatch.setenv("XBEE_PROFILE", "sim-ltem")
    pytester.makepyfile(
        """
        def test_env(xbee_device_spec, xbee_profile):
            assert xbee_device_spec.target == "ltem-11415"
            assert xbee_profile.label == "sim-ltem"
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


# ----- the axes ------------------------------------------------------------------------------

AXES_TEST = """
import pytest

def test_https_get(xbee_mode, tls_variant):
    pass

def test_http_get(xbee_mode):
    pass

@pytest.mark.xbee_modes("api", "api-escaped")
@pytest.mark.tls_variants("root-ca", "leaf-as-ca", "wrong-ca")
def test_marked(xbee_mode, tls_variant):
    pass
"""


def collected(result: pytest.RunResult) -> list[str]:
    return [line.split("::", 1)[1] for line in result.stdout.lines if "::" in line]


def test_axes_are_parametrized_with_readable_ids(pytester: pytest.Pytester) -> None:
    (pytester.path / "two.yaml").write_text(
        "modes: [transparent, api]\ntls_variants: [no-ca, root-ca, leaf-as-ca]\n"
    )
    pytester.makepyfile(AXES_TEST)
    result = pytester.runpytest(*ARGS, "--profile", "two.yaml", "--co", "-q")
    ids = collected(result)
    assert "test_https_get[transparent-root-ca]" in ids
    assert len([i for i in ids if i.startswith("test_https_get[")]) == 2 * 3
    # session-scoped axes: pytest groups tests by mode, so a module switches mode rarely
    assert sorted(i for i in ids if i.startswith("test_http_get[")) == [
        "test_http_get[api]",
        "test_http_get[transparent]",
    ]
    # marker ∩ profile: api only (no api-escaped in the profile), root-ca / leaf-as-ca
    assert sorted(i for i in ids if i.startswith("test_marked[")) == [
        "test_marked[api-leaf-as-ca]",
        "test_marked[api-root-ca]",
    ]


def test_options_narrow_the_axes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(AXES_TEST)
    result = pytester.runpytest(
        *ARGS, "--mode", "api", "--tls-variant", "leaf-as-ca",
        "--tls-variant", "no-ca", "--co", "-q",
    )  # fmt: skip
    assert sorted(collected(result)) == [
        "test_http_get[api]",
        "test_https_get[api-leaf-as-ca]",
        "test_https_get[api-no-ca]",
        "test_marked[api-leaf-as-ca]",
    ]


def test_an_empty_axis_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(AXES_TEST)
    result = pytester.runpytest(*ARGS, "--mode", "transparent", "-rs", "-k", "marked")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(
        ["SKIPPED*no xbee_mode left to run: profile and --mode allow transparent; "
         "@xbee_modes(api, api-escaped)*"]
    )  # fmt: skip


def test_a_bad_marker_argument_is_a_collection_error_without_traceback(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.tls_variants("root_ca")
        def test_typo(tls_variant):
            pass
        """
    )
    result = pytester.runpytest(*ARGS)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*test_typo: @pytest.mark.tls_variants('root_ca') - expected one or more of: no-ca,*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_conftest_or_parametrize_overrides_an_axis(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def xbee_mode():
            return "api-escaped"
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_conftest_mode(xbee_mode):
            assert xbee_mode == "api-escaped"

        @pytest.mark.parametrize("tls_variant", ["wrong-ca"], indirect=True)
        def test_own_variant(tls_variant):
            assert tls_variant == "wrong-ca"
        """
    )
    result = pytester.runpytest(*ARGS, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*::test_conftest_mode PASSED*", "*::test_own_variant[[]wrong-ca[]] PASSED*"]
    )


def test_several_devices_are_an_axis_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_get(xbee_device_spec, xbee_mode, xbee_hil_session):
            assert xbee_hil_session.personality(xbee_device_spec) in ("cat1-3100C", "ltem-11415")
        """
    )
    result = pytester.runpytest(
        *ARGS, "--device", "sim", "--device", "sim:ltem-11415", "--mode",
        "api", "-v",
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*test_get[[]sim-api[]] PASSED*", "*test_get[[]sim-ltem-11415-api[]] PASSED*"]
    )


# ----- markers -------------------------------------------------------------------------------

MARKED = """
import pytest

@pytest.mark.hardware_only
def test_needs_a_module():
    pass

@pytest.mark.sim_only
def test_needs_the_simulator():
    pass

@pytest.mark.requires("extended_sockets")
def test_needs_sockets():
    pass

@pytest.mark.requires("transparent")
def test_needs_transparent():
    pass
"""


def test_markers_skip_on_the_simulator_with_reasons(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MARKED)
    result = pytester.runpytest(*ARGS, "-rs", "--strict-markers")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED*hardware_only: --device sim is not a real module",
            "SKIPPED*requires extended_sockets: cat1-3100C does not have it",
        ]
    )


def test_the_ltem_personality_has_extended_sockets(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MARKED)
    result = pytester.runpytest(*ARGS, "--device", "sim:ltem-11415", "-k", "needs_sockets")
    result.assert_outcomes(passed=1)


def test_markers_on_a_real_module(pytester: pytest.Pytester, pty_path: str) -> None:
    pytester.makepyfile(MARKED)
    result = pytester.runpytest(*ARGS, "-rs", "--device", pty_path, "--profile", "cat1-att")
    # features of a real module are unknown until the device layer reads them: not gated
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED*sim_only: --device {pty_path} is a real module"])


# ----- a broken module stops the run --------------------------------------------------------


def test_a_broken_module_skips_the_rest_of_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from harness.pytest_plugin.session import ModuleBroken

        def test_first(xbee_profile):
            pass

        def test_module_stops_answering():
            raise ModuleBroken("no OK after +++ within 3 s")

        def test_later(xbee_profile):
            pass

        def test_much_later():
            pass
        """
    )
    result = pytester.runpytest(*ARGS, "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "run stopped: module broken: no OK after +++ within 3 s",
            "SKIPPED [[]2[]] *module broken: no OK after +++ within 3 s",
        ]
    )


def test_a_fixture_can_stop_the_run_with_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def xbee(xbee_mark_broken):
            xbee_mark_broken("AI stuck at 0x22 (registering) for 30 s")
            xbee_mark_broken("a second reason does not replace the first")
            pytest.fail("module did not register", pytrace=False)
        """
    )
    pytester.makepyfile(
        """
        def test_one(xbee):
            pass

        def test_two(xbee):
            pass
        """
    )
    result = pytester.runpytest(*ARGS, "-rs")
    result.assert_outcomes(errors=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*module broken: AI stuck at 0x22 (registering) for 30 s"])


def test_tests_without_the_harness_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1)
    assert "xbee-hil:" not in result.stdout.str()
    assert not (pytester.path / "reports" / "matrix.md").exists()


# ----- reports dir and the fixture seam -------------------------------------------------------


def test_alluredir_defaults_under_reports_dir_unless_given(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_dir(xbee_hil_session, request):
            assert str(xbee_hil_session.alluredir) == request.config.option.allure_report_dir
        """
    )
    pytester.runpytest(*ARGS, "--reports-dir", "out").assert_outcomes(passed=1)
    assert list((pytester.path / "out" / "allure-results").glob("*-result.json"))
    pytester.runpytest(*ARGS, "--alluredir", "mine").assert_outcomes(passed=1)
    assert list((pytester.path / "mine").glob("*-result.json"))
    assert (pytester.path / "mine" / "categories.json").is_file()


def test_the_plugin_works_without_allure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_no_allure(xbee_mode, xbee_hil_session, xbee_record_codes):
            assert xbee_hil_session.alluredir is None
            assert xbee_record_codes(ci=0x26) == ["CI = 0x26 Connection refused"]
        """
    )
    result = pytester.runpytest(*ARGS, "-p", "no:allure_pytest", "--mode", "api")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports" / "allure-results").exists()
    assert "| - | ✓ passed · CI 0x26 |" in (pytester.path / "reports" / "matrix.md").read_text()


def test_module_facing_fixtures_plug_in_through_the_seam(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.pytest_plugin import plugin

    pytester.syspathinsert()
    pytester.makepyfile(
        bench_fixtures="""
        import pytest

        @pytest.fixture
        def xbee_port(xbee_device_spec, xbee_baud):
            return f"{xbee_device_spec.label}@{xbee_baud}"
        """,
        test_seam="""
        def test_port(xbee_port):
            assert xbee_port == "sim@9600"
        """,
    )
    monkeypatch.setattr(plugin, "FIXTURE_MODULES", ("bench_fixtures",))
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_a_baud_the_module_cannot_run_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest(*ARGS, "--baud", "12")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: xbee-hil: --baud: 12 is not a rate BD can set" in result.stderr.str()


def test_replay_takes_a_capture_file_or_a_cassette_directory(pytester: pytest.Pytester) -> None:
    (pytester.path / "cassettes").mkdir()
    # a file is read at once (a bad one is a usage error), so this one is a capture: a header
    (pytester.path / "one.jsonl").write_text('{"ev": "header", "format": "xbee-hil-capture/1"}\n')
    pytester.makepyfile(
        """
        def test_spec(xbee_device_spec):
            assert xbee_device_spec.simulated and xbee_device_spec.kind.value == "replay"
        """
    )
    for spec in ("replay:cassettes", "replay:one.jsonl"):
        pytester.runpytest(*ARGS, "--device", spec).assert_outcomes(passed=1)
