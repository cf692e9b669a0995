"""benchmarks/suite_speed.py: reading stats.jsonl, the figures, the minimality check, and one
real run of a small part of the suites through it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("suite_speed", ROOT / "benchmarks/suite_speed.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["suite_speed"] = mod
    spec.loader.exec_module(mod)
    return mod


ss = _load()


def line(test: str, wall: float, *, imposed: float | None = None, variant=None, outcome="passed",
         uses_port=True, **counts) -> dict:
    sim = None if imposed is None else {"imposed_wall_s": imposed, "imposed_s": imposed * 1.2,
                                        "guard_time_s": imposed / 2}
    return {"test": test, "wall_s": wall, "outcome": outcome, "variant": variant,
            "uses_port": uses_port, "counts": counts, "sim": sim,
            "timing": "realistic" if sim else None}


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_read_stats_names_the_bad_line(tmp_path: Path):
    path = tmp_path / "stats.jsonl"
    path.write_text(json.dumps(line("a", 0.1)) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(ss.StatsError, match=rf"{path}:3: not JSON"):
        ss.read_stats(path)
    path.write_text('{"test": "a"}\n', encoding="utf-8")
    with pytest.raises(ss.StatsError, match=rf"{path}:1: expected an object"):
        ss.read_stats(path)
    with pytest.raises(ss.StatsError, match="cannot read"):
        ss.read_stats(tmp_path / "absent.jsonl")


def test_percentiles_and_median():
    values = [0.05, 0.01, 0.03, 0.02, 0.04, 0.10, 0.06, 0.07, 0.08, 0.09]
    assert ss.median(values) == pytest.approx(0.055)
    assert ss.median([3.0, 1.0, 2.0]) == 2.0
    assert ss.percentile(values, 90) == 0.09
    assert ss.percentile(values, 100) == 0.10
    assert ss.percentile([1.0], 90) == 1.0


def test_wall_summary_leaves_skipped_tests_out():
    records = [line("a", 0.1), line("b", 0.3), line("c", 0.0, outcome="skipped")]
    w = ss.wall_summary(records)
    assert w["tests"] == 2 and w["median"] == pytest.approx(0.2) and w["max"] == 0.3


def test_ratio_uses_the_union_and_only_tests_on_the_session_module():
    records = [
        line("a", 5.5, imposed=5.0),
        line("b", 2.2, imposed=2.0),
        line("own-rig", 3.0, imposed=0.0, uses_port=False),
        line("none", 1.0),
        line("skip", 0.0, imposed=0.0, outcome="skipped"),
    ]
    r = ss.ratio_summary(records)
    assert r["tests"] == 2
    assert r["ratio"] == pytest.approx(7.7 / 7.0)
    assert r["summed"] == pytest.approx(7.0 * 1.2)
    assert r["without_account"] == ["own-rig", "none"]
    assert r["worst"][0][0] == "a"  # 0.5 s of harness time beats 0.2 s


def test_count_summary_totals_and_maxima():
    records = [line("a", 0.1, at_round_trips=4, uploads=1),
               line("b", 0.1, at_round_trips=7, command_mode_entries=2)]
    counts = ss.count_summary(records)
    assert counts["at_round_trips"] == (11, 7)
    assert counts["uploads"] == (1, 1)
    assert counts["resets"] == (0, 0)


def test_minimality_flags_resets_nvm_writes_and_repeated_uploads():
    clean = [line("a", 0.1, variant="root-ca", uploads=1),
             line("b", 0.1, variant="root-ca", uploads=0, uploads_skipped=1),
             line("c", 0.1, variant="leaf-as-ca", uploads=1)]
    assert ss.minimality(clean) == []
    dirty = [line("a", 0.1, variant="root-ca", uploads=1),
             line("b", 0.1, variant="root-ca", uploads=1),
             line("c", 0.1, resets=1),
             line("d", 0.1, nvm_writes=2)]
    problems = ss.minimality(dirty)
    assert len(problems) == 3
    assert problems[0].startswith("b: uploaded 1 file(s) for root-ca")
    assert problems[1] == "c: 1 reset(s)" and problems[2] == "d: 2 NVM write(s)"


def test_main_on_a_stats_file_reports_the_goals(tmp_path: Path, capsys):
    good = write(tmp_path / "good.jsonl", [line("a", 1.05, imposed=1.0),
                                            line("b", 2.1, imposed=2.0)])
    assert ss.main(["--stats", str(good)]) == 0
    out = capsys.readouterr().out
    assert "== realistic: 2 tests, 2 ran" in out and "ratio 1.050" in out and "met" in out
    slow = write(tmp_path / "slow.jsonl", [line("a", 1.5, imposed=1.0)])
    assert ss.main(["--stats", str(slow)]) == 1
    assert "MISSED" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n", encoding="utf-8")
    assert ss.main(["--stats", str(bad)]) == 2
    assert f"{bad}:1: not JSON" in capsys.readouterr().err


def test_a_real_fast_run_of_part_of_the_suites(tmp_path: Path, capsys):
    code = ss.main(["--timing", "fast", "--keep", str(tmp_path), "--",
                    "-k", "test_http_get and not extended_socket", "-p", "no:allure_pytest"])
    out = capsys.readouterr().out
    records = ss.read_stats(tmp_path / "fast" / "stats.jsonl")
    assert sorted(r["test"].rsplit("[", 1)[1] for r in records) == [
        "api-escaped]", "api]", "transparent]"]
    assert all(r["timing"] == "fast" and r["sim"]["imposed_wall_s"] > 0 for r in records)
    assert "wall per test: median" in out and "minimal (no reset" in out
    assert code in (0, 1), out  # 1 only if this machine misses the speed goal
