"""A bench profile's `fault_targets:` (the resilience suite's host-side faults) and
`targets.mutual.client_cert_v1`: validated with file:line, reaching `port.urls` and the
PKI files, and a fault with no endpoint skipped naming its key (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.profiles import ProfileError, load_profile
from harness.profiles.schema import UNRESOLVABLE_URL
from harness.pytest_plugin.devices import _hardware_files
from harness.servers import Pki
from tests.plugin.benchrig import HOST, start_bench


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _issues(path: Path) -> list[str]:
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return [str(i) for i in info.value.issues]


def test_fault_targets_become_the_suites_names(tmp_path):
    path = _write(tmp_path / "p.yaml", "fault_targets:\n  server_down: http://h.example:81/\n"
                  "  slow_server: http://h.example:83/\n")  # fmt: skip
    urls = load_profile(path).fault_targets.urls()
    assert urls == {"server-down": "http://h.example:81/", "slow-server": "http://h.example:83/",
                    "unresolvable": UNRESOLVABLE_URL}  # fmt: skip


def test_a_bad_fault_target_is_one_line_at_its_place(tmp_path):
    path = _write(tmp_path / "p.yaml", "name: x\nfault_targets:\n  server_reset: h.example:82\n"
                  "  server_dwn: http://h.example/\n")  # fmt: skip
    issues = _issues(path)
    assert issues[0].startswith(f"{path}:3:3: fault_targets.server_reset: "), issues
    assert "not an http:// or https:// URL" in issues[0]
    assert issues[1].startswith(f"{path}:4:3: fault_targets.server_dwn: unknown key"), issues
    assert "server_down" in issues[1]


def test_client_cert_v1_reaches_the_bench_files(tmp_path):
    pki = Pki.create(tmp_path / "pki")
    path = _write(tmp_path / "p.yaml", f"""targets:
  mutual:
    url: https://m.example/
    client_cert: {pki.path('client_cert')}
    client_key: {pki.path('client_key')}
    client_cert_v1: {pki.path('client_cert_v1')}
""")
    files, missing = _hardware_files(load_profile(path), tmp_path / "work")
    assert files["client_cert_v1"] == pki.read("client_cert_v1") and not missing
    without = _write(tmp_path / "q.yaml", f"""targets:
  mutual:
    url: https://m.example/
    client_cert: {pki.path('client_cert')}
    client_key: {pki.path('client_key')}
""")
    files, missing = _hardware_files(load_profile(without), tmp_path / "work2",
                                     ("client-cert-v1",))
    assert files["client_cert_v1"] is None
    assert "targets.mutual.client_cert_v1" in missing["client_cert_v1"]


def test_client_cert_v1_needs_its_key(tmp_path):
    cert = _write(tmp_path / "c.crt", "x")
    path = _write(tmp_path / "p.yaml", f"targets:\n  mutual:\n    url: https://m.example/\n"
                  f"    client_cert_v1: {cert}\n")  # fmt: skip
    (issue,) = _issues(path)
    assert "client_cert_v1 needs the client_key" in issue


@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")
def test_a_bench_without_the_endpoint_skips_naming_the_key(pytester, tmp_path):
    rig = start_bench(tmp_path / "bench", modes=("api",),
                      profile_extra={"fault_targets": {"server_down": None}})  # fmt: skip
    try:
        suite = Path(__file__).resolve().parents[2] / "suites" / "test_faults.py"
        pytester.makepyfile(test_faults_copy=suite.read_text(encoding="utf-8"))
        result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                    "-p", "no:allure_pytest", "-rs", "-k", "server_down",
                                    *rig.args())  # fmt: skip
    finally:
        rig.close()
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*the profile names no fault_targets.server_down*"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")
def test_host_side_fault_tests_fail_against_a_healthy_server(pytester, tmp_path):
    """The host-side faults' tests test the far end's failure: pointed at a server that
    answers 200, each of them fails (the check that the fault is really met)."""
    healthy = f"http://{HOST}/"
    rig = start_bench(tmp_path / "bench", modes=("api",), profile_extra={"fault_targets": {
        "server_down": healthy, "server_reset": healthy, "slow_server": healthy}})  # fmt: skip
    try:
        suite = Path(__file__).resolve().parents[2] / "suites" / "test_faults.py"
        pytester.makepyfile(test_faults_copy=suite.read_text(encoding="utf-8"))
        result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                    "-p", "no:allure_pytest", "-rA", "-k",
                                    "test_host_server or test_host_slow", *rig.args())
    finally:
        rig.close()
    out = result.stdout.str()
    for name in ("server_down_is_refused", "server_reset_mid_response", "slow_server_is"):
        assert f"FAILED test_faults_copy.py::test_host_{name}" in out, out[-3000:]
    assert "PASSED test_faults_copy.py::test_host_" not in out, out[-3000:]
