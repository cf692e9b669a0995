"""Per-test stats from the suites' fixtures (stats.jsonl, Allure), the rig's timings, and the
minimal-work promise (no reset, no repeated upload), on real suite runs in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.pytest_plugin import simrig
from harness.sim.host.server import baud_rate

ROOT = Path(__file__).resolve().parents[2]
COUNT_KEYS = {"command_mode_entries", "at_round_trips", "mode_probes", "resets", "nvm_writes",
              "uploads", "uploads_skipped", "uploads_known", "upload_bytes"}


def run_suites(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--reports-dir", str(reports), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    path = reports / "stats.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return done, [json.loads(x) for x in lines]


def test_one_line_per_test_with_counts_wall_time_and_the_simulators_account(tmp_path: Path):
    allure_dir = tmp_path / "allure"
    done, records = run_suites(
        tmp_path, "suites/test_https.py", "--mode", "transparent", "--mode", "api",
        "--tls-variant", "root-ca", "--tls-variant", "path-absolute", "--tls-variant",
        "client-cert", "--alluredir", str(allure_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(records) == 6
    for r in records:
        assert r["counts"].keys() >= COUNT_KEYS, r
        assert r["outcome"] == "passed" and r["wall_s"] > 0 and r["uses_port"]
        assert r["timing"] == "fast" and r["devices"] == ["sim"]
        assert r["sim"]["imposed_wall_s"] > 0
        assert r["sim"]["imposed_wall_s"] <= r["sim"]["imposed_s"] + 1e-6
        # minimal: nothing resets the module, nothing writes its flash parameters
        assert r["counts"]["resets"] == 0 and r["counts"]["nvm_writes"] == 0
    # the module registers once, in the first test's setup
    assert records[0]["sim"]["registration_s"] > 0
    assert all(r["sim"]["registration_s"] == 0 for r in records[1:])
    # root.crt goes up once; client-cert adds its own two files once
    by_variant: dict[str, list[dict]] = {}
    for r in records:
        by_variant.setdefault(r["variant"], []).append(r)
    uploaded = sum(r["counts"]["uploads"] for r in records)
    assert uploaded == 3, [(r["test"], r["counts"]["uploads"]) for r in records]
    for variant, group in by_variant.items():
        assert all(r["counts"]["uploads"] == 0 for r in group[1:]), variant
    # a certificate this run put up is not even hash-checked again (no command mode for it)
    assert sum(r["counts"]["uploads_skipped"] for r in records) == 0
    assert sum(r["counts"]["uploads_known"] for r in records) > 0
    # the work counted matches what the captures show: one escape per command-mode entry
    assert (sum(r["counts"]["command_mode_entries"] for r in records)
            == sum(r["sim"]["escapes"] for r in records))
    # the same line is attached to the Allure result of each test
    attached = []
    for result in allure_dir.glob("*-result.json"):
        data = json.loads(result.read_text(encoding="utf-8"))
        for att in data.get("attachments", []):
            if att["name"] == "xbee-hil stats":
                attached.append(json.loads((allure_dir / att["source"]).read_text()))
    assert sorted(a["test"] for a in attached) == sorted(r["test"] for r in records)


def test_a_failed_test_makes_the_harness_forget_and_restore(tmp_path: Path):
    """A test that fails leaves the module in an unknown state: the next one reads again."""
    conftest = tmp_path / "suites_extra"
    conftest.mkdir()
    (conftest / "test_fail_then_pass.py").write_text(
        "import pytest\n"
        "@pytest.mark.xbee_modes('api')\n"
        "@pytest.mark.tls_variants('root-ca')\n"
        "def test_a_fails(xbee, tls_variant):\n"
        "    xbee.port.module.api().set('TM', 0x20)  # behind the configurator's back\n"
        "    assert False, 'on purpose'\n"
        "@pytest.mark.xbee_modes('api')\n"
        "@pytest.mark.tls_variants('root-ca')\n"
        "def test_b_after(xbee, tls_variant):\n"
        "    assert xbee.port.module.read(['TM'])['TM'] == 0x64\n",
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(conftest), "-q", "-p", "no:cacheprovider",
         "-p", "no:allure_pytest", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
         "--reports-dir", str(reports)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(x) for x in (reports / "stats.jsonl").read_text().splitlines()]
    failed, after = records
    assert failed["outcome"] == "failed" and after["outcome"] == "passed"
    # the second test checked the certificate again (ATFS HASH) instead of trusting memory
    assert failed["counts"]["uploads"] == 1
    assert after["counts"]["uploads_skipped"] == 1 and after["counts"]["uploads_known"] == 0
    assert after["counts"]["uploads"] == 0


@pytest.mark.parametrize("name", ["fast", "realistic"])
def test_rig_timings(name: str, tmp_path: Path):
    t = simrig.TIMINGS[name]
    with simrig.start_rig("cat1-3100C", tmp_path, timing=name) as rig:
        assert rig.server.time_scale == t.time_scale and rig.time_scale == t.time_scale
        assert rig.server.uart_pacing is t.uart_pacing
        assert rig.network.config.latency == pytest.approx(t.latency * t.time_scale)
        assert rig.network.config.tls_handshake_time == pytest.approx(
            t.tls_handshake_time * t.time_scale)
        assert rig.server.call(lambda m: int(m.param("BD"))) == t.bd
        assert rig.baud == baud_rate(t.bd)
        assert rig.first_byte_timeout == pytest.approx(
            t.first_byte_margin + (2 * t.latency + t.tls_handshake_time) * t.time_scale)
        assert rig.guard_time == pytest.approx(t.time_scale)
        assert rig.stats()["time_scale"] == t.time_scale
    if name == "realistic":
        assert (t.time_scale, t.uart_pacing, t.bd) == (1.0, True, 7)
        assert (t.latency, t.tls_handshake_time) == (simrig.REALISTIC_RTT,
                                                     simrig.REALISTIC_TLS_HANDSHAKE)
    else:
        assert (t.time_scale, t.uart_pacing, t.latency) == (simrig.FAST_TIME_SCALE, False, 0.0)


def test_unknown_timing_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="sim timing 'slow': expected one of fast, realistic"):
        simrig.find_timing("slow")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider",
         "--sim-timing", "slow", "--reports-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 4  # usage error
    assert "--sim-timing" in done.stderr and "invalid choice" in done.stderr
