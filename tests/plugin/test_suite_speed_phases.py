"""benchmarks/suite_speed.py's split of a test's time into phases, its guard share and JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from harness.device.command import guard_silence

ROOT = Path(__file__).resolve().parents[2]


def _load():
    path = ROOT / "benchmarks" / "suite_speed.py"
    spec = importlib.util.spec_from_file_location("suite_speed_p", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["suite_speed_p"] = mod
    spec.loader.exec_module(mod)
    return mod


ss = _load()
TEST = "suites/test_https.py::test_https_get[transparent-root-ca]"


def _capture(path: Path) -> None:
    events = [
        {"ev": "header"},
        {"ev": "tx", "t": 0.10, "hex": b"ATFS HASH /flash/cert/a\r".hex()},
        {"ev": "file", "t": 0.60, "action": "uploaded"},
        {"ev": "tx", "t": 1.00, "hex": b"GET / HTTP/1.1\r\n".hex()},
        {"ev": "rx", "t": 2.20, "hex": b"OK\r".hex()},
        {"ev": "mode", "t": 2.22, "mode": "command"},
        {"ev": "http", "t": 2.30, "path": "transparent", "timings": {"total": 1.30}},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")


def test_a_tests_wall_time_is_split_by_phase(tmp_path: Path) -> None:
    _capture(tmp_path / ss.capture_name(TEST))
    record = {"test": TEST, "wall_s": 3.0, "phases": {"setup": 0.9, "call": 1.9},
              "sim": {"guard_time_s": 0.2, "escapes": 1}, "counts": {}}
    split = ss.phase_split(record, tmp_path)
    assert split["upload"] == pytest.approx(0.5)
    assert split["setup"] == pytest.approx(0.4)
    # GT 0.1 s: the CI poll starts two guard silences (0.15 s each, A-GUARD-JITTER) before
    # the entry's OK
    assert guard_silence(0.1) == pytest.approx(0.15)
    assert split["ci_poll"] == pytest.approx(2.30 - (2.22 - 0.30))
    assert split["request"] == pytest.approx(1.30 - split["ci_poll"])
    assert split["body"] == pytest.approx(1.9 - 1.30)
    assert split["teardown"] == pytest.approx(0.2)
    assert sum(split.values()) == pytest.approx(3.0)


def test_guard_share_goals_and_json(tmp_path: Path) -> None:
    records = [{"test": "a", "wall_s": 2.0, "counts": {"command_mode_entries": 2},
                "sim": {"guard_time_s": 0.4, "imposed_wall_s": 1.9}, "outcome": "passed"}]
    g = ss.guard_summary(records)
    assert g["share"] == pytest.approx(0.2) and g["entries"] == 2
    rows = ss.goals_table(40.0, 1, g["share"], 1.05)
    assert [ok for *_, ok in rows] == [True, False, True]
    stats = tmp_path / "stats.jsonl"
    stats.write_text(json.dumps({**records[0], "timing": "realistic"}) + "\n", "utf-8")
    out = tmp_path / "out.json"
    assert ss.main(["--stats", str(stats), "--json", str(out)]) == 0  # ratio 1.05: met
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["timings"]["realistic"]["guard"]["share"] == pytest.approx(0.2)
    assert set(data["timings"]["realistic"]["phases"]["totals"]) == set(ss.PHASES)


def test_unanswered_transparent_requests_are_their_own_share(tmp_path: Path) -> None:
    """The ratio line names the overhead of requests the module never answered (no first
    byte, no status, transparent mode), and only theirs."""
    silent, answered = "suites/x.py::t[transparent-wrong-ca]", "suites/x.py::t[api-wrong-ca]"
    for test, ev in (
        (silent, {"ev": "http", "t": 1.6, "path": "transparent", "status": None,
                  "timings": {"first_byte": None, "total": 1.5}}),
        (answered, {"ev": "http", "t": 0.4, "path": "tx-tls", "status": None,
                    "timings": {"first_byte": None, "total": 0.3}}),
    ):  # fmt: skip
        (tmp_path / ss.capture_name(test)).write_text(json.dumps(ev) + "\n", encoding="utf-8")
    records = [
        {"test": silent, "wall_s": 1.7, "outcome": "passed", "counts": {},
         "sim": {"imposed_wall_s": 0.5}},
        {"test": answered, "wall_s": 0.4, "outcome": "passed", "counts": {},
         "sim": {"imposed_wall_s": 0.3}},
    ]  # fmt: skip
    got = ss.unanswered(records, tmp_path)
    assert got["tests"] == 1
    assert got["overhead_s"] == pytest.approx(1.2)


def test_the_issue_set_is_the_filed_suites_without_later_variants() -> None:
    args = ss.testsets.pytest_args("issue", "https")
    assert args[:3] == ["suites/test_http.py", "suites/test_https.py",
                        "suites/test_forum_thread.py"]
    assert args[3] == "-k" and args[4].startswith("(https) and not (client-cert-v1 or ")
    assert ss.testsets.pytest_args("all") == ["suites/"]
    with pytest.raises(ValueError, match="unknown test set"):
        ss.testsets.pytest_args("most")
