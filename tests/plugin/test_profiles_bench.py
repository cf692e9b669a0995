"""Profiles on a bench (issue 9, observation 8): the target names the harness reads, an empty
file, `local: true` targets on a real module, and the example profiles' commented blocks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.profiles import BUILTIN_PROFILE_DIR, TARGET_NAMES, check, load_profile

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def test_profile_check_refuses_a_target_name_the_harness_does_not_read(tmp_path: Path) -> None:
    """Before: `mtls:` passed the check and the mutual-TLS variants skipped without a word."""
    path = tmp_path / "bench.yaml"
    path.write_text(
        "name: bench\ntargets:\n  https:\n    url: https://example.com/\n"
        "  mtls:\n    url: https://mtls.example.net/\n",
        encoding="utf-8",
    )
    issues = [str(i) for i in check(path)]
    assert len(issues) == 1
    assert issues[0].startswith(f"{path}:5:3: targets.mtls: unknown target 'mtls'")
    assert "did you mean 'mutual'?" in issues[0]


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n", "{}\n"])
def test_profile_check_refuses_an_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    issues = [str(i) for i in check(path)]
    assert len(issues) == 1, issues
    assert issues[0].startswith(str(path)) and "empty" in issues[0], issues


def test_the_example_profiles_mutual_block_uses_a_name_the_harness_reads(tmp_path: Path) -> None:
    """Uncomment the example's mutual-TLS target (and its files): it loads as `mutual`."""
    text = (BUILTIN_PROFILE_DIR / "cat1-att.yaml").read_text(encoding="utf-8")
    blocks = re.finditer(r"^  # (\w+):\n((?:  #   .*\n)+)", text, re.M)
    block = next((b for b in blocks if "client_cert" in b.group(2)), None)
    assert block is not None, "cat1-att.yaml has no commented mutual-TLS target"
    assert block.group(1) in TARGET_NAMES
    uncommented = text.replace(block.group(0), re.sub(r"^  # ?", "  ", block.group(0), flags=re.M))
    for name in ("mtls-root.pem", "client.crt", "client.key", "client-v1.crt"):
        (tmp_path / "certs").mkdir(exist_ok=True)
        (tmp_path / "certs" / name).write_text("x", encoding="utf-8")
    path = tmp_path / "cat1-att.yaml"
    path.write_text(uncommented, encoding="utf-8")
    profile = load_profile(path)
    assert profile.targets["mutual"].client_cert == tmp_path / "certs" / "client.crt"


def test_leaf_and_intermediate_are_https_files_relative_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "leaf.pem").write_text("x", encoding="utf-8")
    path = tmp_path / "bench.yaml"
    path.write_text(
        "targets:\n  https:\n    url: https://example.com/\n    leaf: certs/leaf.pem\n"
        "  http:\n    url: http://example.com/\n    intermediate: certs/leaf.pem\n",
        encoding="utf-8",
    )
    issues = [str(i) for i in check(path)]
    assert issues == [
        f"{path}:5:3: targets.http: ca / client_cert / client_key / leaf / "
        "intermediate only make sense for an https URL"
    ]


@pytest.fixture
def pty_path() -> Iterator[str]:
    controller, peripheral = os.openpty()
    try:
        yield os.ttyname(peripheral)
    finally:
        os.close(controller)
        os.close(peripheral)


def test_local_targets_on_a_real_module_are_refused_with_one_line(
    pytester: pytest.Pytester, pty_path: str
) -> None:
    """Before: `--profile sim --device <a real port>` sent google.com to the real network."""
    pytester.makepyfile("def test_never_runs():\n    pass\n")
    result = pytester.runpytest(*ARGS, "--device", pty_path, "--profile", "sim")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = [line for line in result.stderr.lines if "xbee-hil" in line]
    sim = BUILTIN_PROFILE_DIR / "sim.yaml"
    assert len(err) == 1, result.stderr.str()
    assert re.search(
        rf"{re.escape(str(sim))}:\d+:\d+: targets.http.local: a local \(simulated, loopback\) "
        rf"target cannot be used with --device {re.escape(pty_path)}, a real module "
        r"\(also targets.https\)",
        err[0],
    ), err[0]
    assert "Traceback" not in result.stderr.str()
