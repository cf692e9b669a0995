"""Profiles: the shipped ones validate, extends merges, bad ones name file:line and key."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from harness.commands import profile as profile_command
from harness.profiles import (
    BUILTIN_PROFILE_DIR,
    MODES,
    TLS_VARIANTS,
    ProfileError,
    check,
    find_profile,
    load_profile,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["sim", "sim-ltem", "cat1-att", "ltem"])
def test_shipped_profiles_validate(name: str) -> None:
    profile = load_profile(find_profile(name))
    assert profile.label == name
    assert profile.source == BUILTIN_PROFILE_DIR / f"{name}.yaml"
    assert set(profile.modes) <= set(MODES)
    assert set(profile.tls_variants) <= set(TLS_VARIANTS)


def test_sim_profiles_are_the_two_personalities() -> None:
    assert load_profile(find_profile("sim")).device.personality == "cat1-3100C"
    ltem = load_profile(find_profile("sim-ltem"))
    assert ltem.device.personality == "ltem-11415"
    assert [p.name for p in ltem.chain] == ["sim-ltem.yaml", "sim.yaml"]
    assert ltem.targets["https"].url == "https://google.com/"  # inherited


def test_defaults_cover_every_axis(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path / "p.yaml", "name: bare\n"))
    assert profile.modes == list(MODES)
    assert profile.tls_variants == list(TLS_VARIANTS)
    assert profile.device.baud == 9600  # D-BD default
    assert profile.device.reset.method == "at"


def test_extends_deep_merges_and_paths_follow_their_file(tmp_path: Path) -> None:
    write(tmp_path / "base" / "certs" / "root.pem", "root\n")
    write(
        tmp_path / "base" / "base.yaml",
        """
        device: {baud: 9600, reset: at}
        baseline: {TM: 0x64, DL: google.com}
        targets:
          https: {url: "https://google.com/", ca: certs/root.pem}
        modes: [transparent, api]
        """,
    )
    child = write(
        tmp_path / "bench" / "child.yaml",
        """
        extends: ../base/base
        device: {baud: 115200}
        baseline: {DE: 1BB}
        modes: [api-escaped]
        """,
    )
    profile = load_profile(child)
    assert profile.device.baud == 115200
    assert profile.device.reset.method == "at"  # kept from the base
    assert profile.baseline == {"TM": 100, "DL": "google.com", "DE": 0x1BB}  # hex text, D-CMD
    assert profile.modes == ["api-escaped"]  # lists replace
    assert profile.targets["https"].ca == (tmp_path / "base" / "certs" / "root.pem").resolve()
    assert profile.label == "child"


def test_secrets_come_from_the_environment_and_stay_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBEE_TEST_APN_PASSWORD", "hunter2-secret")
    profile = load_profile(
        write(
            tmp_path / "p.yaml",
            """
            network:
              apn: m2m.example
              apn_user: bench-user
              apn_password: {env: XBEE_TEST_APN_PASSWORD}
            """,
        )
    )
    assert profile.network.apn_password.get_secret_value() == "hunter2-secret"
    shown = repr(profile) + str(profile.redacted())
    assert "hunter2-secret" not in shown and "bench-user" not in shown


def test_command_reset_takes_a_string_or_a_list(tmp_path: Path) -> None:
    profile = load_profile(
        write(
            tmp_path / "p.yaml",
            "device:\n  reset: {method: command, command: 'relay --port 2 cycle'}\n",
        )
    )
    assert profile.device.reset.command == ["relay", "--port", "2", "cycle"]


def issues_of(path: Path) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return [str(i) for i in caught.value.issues]


def test_every_issue_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml",
        """
        name: bad
        device:
          baud: fast
          personality: cat1-3100X
        baseline:
          dl: google.com
          TM: [1]
        targets:
          https:
            url: ftp://google.com/
        modes: [transparent, apii]
        """,
    )
    issues = issues_of(path)
    assert len(issues) == 6, issues
    assert issues[0].startswith(f"{path}:3:3: device.baud: ") and "'fast'" in issues[0]
    assert issues[1].startswith(f"{path}:4:3: device.personality: ")
    assert "did you mean 'cat1-3100C'" in issues[1]
    assert issues[2].startswith(f"{path}:6:3: baseline.dl: ") and "'DL'" in issues[2]
    assert issues[3].startswith(f"{path}:7:3: baseline.TM: ")
    assert issues[4].startswith(f"{path}:10:5: targets.https.url: ")
    assert issues[5].startswith(f"{path}:11:22: modes[1]: ")


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "device:\n  baudrate: 9600\n")
    (issue,) = issues_of(path)
    assert issue.startswith(f"{path}:2:3: device.baudrate: unknown key (did you mean 'baud'?")


def test_an_error_in_a_parent_names_the_parent_file(tmp_path: Path) -> None:
    parent = write(tmp_path / "parent.yaml", "device:\n  baud: 12\n")
    child = write(tmp_path / "child.yaml", "extends: parent.yaml\nname: child\n")
    (issue,) = issues_of(child)
    assert issue.startswith(f"{parent}:2:3: device.baud: 12 is not a rate BD can set")


def test_a_secret_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "network:\n  apn_password: [hunter2-secret]\n")
    (issue,) = issues_of(path)
    assert "network.apn_password" in issue and "hunter2-secret" not in issue


def test_check_returns_issues_instead_of_raising(tmp_path: Path) -> None:
    assert check(BUILTIN_PROFILE_DIR / "sim.yaml") == []
    (issue,) = check(write(tmp_path / "p.yaml", "a: 1\na: 2\n"))
    assert (issue.line, issue.key) == (2, "a") and "duplicate" in issue.message


def test_find_profile_by_name_prefers_the_given_dirs(tmp_path: Path) -> None:
    local = write(tmp_path / "profiles" / "sim.yaml", "name: local-sim\n")
    assert find_profile("sim", (tmp_path / "profiles",)) == local.resolve()
    assert find_profile("sim") == (BUILTIN_PROFILE_DIR / "sim.yaml").resolve()
    with pytest.raises(ProfileError, match="no such profile"):
        find_profile("no-such-bench")


# ----- xbee-hil profile check ----------------------------------------------------------------


def run_cli(*argv: str) -> int:
    """Through a parser shaped like harness.cli's, so exit codes are argparse's own."""
    parser = argparse.ArgumentParser(prog="xbee-hil")
    profile_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_check_good_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("profile", "check", str(BUILTIN_PROFILE_DIR / "ltem.yaml"), "--show") == 0
    out = capsys.readouterr().out
    assert "OK (ltem: ltem.yaml <- cat1-att.yaml" in out
    assert "baud: 115200" in out and "apn: iot.example" in out


def test_cli_check_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "bad.yaml", "modes: [transparent]\nnvm:\n  params: [WR]\n")
    assert run_cli("profile", "check", "sim", str(bad)) == 1
    captured = capsys.readouterr()
    assert "sim: OK" in captured.out
    assert captured.err.strip() == (
        f"{bad}:3:12: nvm.params[0]: WR is a command, not a parameter (D-SPECIAL)"
    )
    assert "Traceback" not in captured.err


def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_cli("profile", "check")
    assert caught.value.code == 2
    assert "FILE" in capsys.readouterr().err


def test_baseline_values_are_checked_against_the_at_catalogue(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.yaml",
        """
        baseline:
          TM: 0x10000
          DE: 1BG
          AI: 0
          ZZ: 1
          RO: 0
        """,
    )
    issues = issues_of(path)
    assert issues == [
        f"{path}:2:3: baseline.TM: ATTM: 0x10000 out of range (0x0-0xFFFF)",
        f"{path}:3:3: baseline.DE: ATDE: '1BG' is not a hex number",
        f"{path}:4:3: baseline.AI: AI is read-only on the module (L-PY, L-J, L-TG)",
        f"{path}:5:3: baseline.ZZ: ZZ is not in the AT catalogue (harness/xbee/at.py)",
    ]


def test_the_console_script_checks_profiles(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = write(tmp_path / "bad.yaml", "device:\n  reset: relay\n")  # power is a method (labgrid)
    cmd = [sys.executable, "-m", "harness.cli", "profile", "check"]
    good = subprocess.run([*cmd, "sim"], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and good.stdout.startswith("sim: OK (sim: sim.yaml;")
    failed = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"{bad}:2:3: device.reset: ")
    assert "Traceback" not in failed.stderr
    usage = subprocess.run([*cmd], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage: xbee-hil profile check" in usage.stderr
