"""Replay vs the fast simulator vs a module-timed recording, in one run (issue 13).

Real pytest runs of the suites, each in its own process, timed from outside and per test
(JUnit XML): 1. `--record DIR --sim-timing realistic` (module timing: what a recording on a
bench costs); 2. the fast simulator (the suites' default); 3. `--device replay:DIR` of the
shipped cassettes (or `--deck DIR`); with `--clock real`, 2 and 3 run again on real time,
for the before/after of the warping clock (A-CLOCK-WARP). Printed as ratios, median and p90
per test, with the goals (measured, not asserted): replay <= 0.3x the fast simulator and
median <= 50 ms; fast simulator 44 tests <= 6 s, p90 <= 200 ms. `--json FILE` for a plot.
The goals are judged on the issue's set of tests (`--set issue`, the default;
benchmarks/testsets.py); `--set all` runs the whole of suites/.

    python benchmarks/replay_speed.py [--no-record] [--also-real] [--set all] [--json F] [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/testsets.py
import testsets

GOAL = 5.0  # replay vs a realistic recording (the earlier goal, still printed)
REPLAY_VS_FAST = 0.3
REPLAY_MEDIAN = 0.050
FAST_TOTAL = 6.0
FAST_P90 = 0.200
SHIPPED = "suites/cassettes/cat1-3100C"
ROOT = Path(__file__).resolve().parents[1]
# Inner runs: no Allure, no cache, no hypothesis plugin (nothing of theirs is measured).
QUIET = ("-q", "-rf", "-p", "no:cacheprovider", "-p", "no:allure_pytest",
         "-p", "no:hypothesispytest")
_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|error|errors)")
_SESSION = re.compile(r" in ([0-9.]+)s")
# Inner runs keep pytest's assertion-rewrite cache (__pycache__, git-ignored): with
# PYTHONDONTWRITEBYTECODE (tox sets it) every process rewrote and compiled the ~100 harness
# modules again, a fixed ~1.5 s per run on a loaded 2-core machine that is neither replay's
# nor the simulator's. A collect-only run first warms the cache for all of them alike.
INNER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Run:
    what: str
    seconds: float
    counts: dict[str, int]
    returncode: int
    tail: str
    per_test: list[float]
    session: float = 0.0  # pytest's own "in N s": the run less interpreter and plugin start
    cpu: float = 0.0  # user + system CPU seconds of the run (all its threads): what load
    # on a shared machine does not change, unlike its wall time

    def stat(self) -> dict[str, float]:
        t = sorted(self.per_test) or [0.0]
        p90 = t[min(len(t) - 1, round(0.9 * (len(t) - 1)))]
        return {"wall_s": round(self.seconds, 3), "session_s": round(self.session, 3),
                "cpu_s": round(self.cpu, 3),
                "tests": len(self.per_test),
                "sum_s": round(sum(t), 3), "median_s": round(statistics.median(t), 4),
                "p90_s": round(p90, 4)}  # fmt: skip

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.counts.get("failed") and not (
            self.counts.get("error") or self.counts.get("errors"))  # fmt: skip

    def line(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts.items()) or "no summary"
        st = self.stat()
        return (f"{self.what:<40} {self.seconds:7.2f} s (cpu {self.cpu:5.2f} s)  "
                f"median {st['median_s'] * 1000:6.0f} ms"
                f"  p90 {st['p90_s'] * 1000:6.0f} ms  ({counts})")


def pytest_run(what: str, args: list[str], reports: Path, targets: list[str]) -> Run:
    xml = reports / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", *targets, *QUIET, "--reports-dir", str(reports),
           "--junitxml", str(xml), *args]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False,
                          env=INNER_ENV)  # fmt: skip
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {kind: int(n) for n, kind in _COUNTS.findall(last)}
    session = float(m.group(1)) if (m := _SESSION.search(last)) else seconds
    per_test: list[float] = []
    if xml.is_file():
        for case in ET.parse(xml).iter("testcase"):
            if case.find("skipped") is None:
                per_test.append(float(case.get("time", "0")))
    return Run(what, seconds, counts, proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:],
               per_test, session, cpu)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="sim", help="the simulator to record (sim, sim:NAME)")
    p.add_argument("--deck", default=SHIPPED, help=f"cassettes to replay (default {SHIPPED})")
    p.add_argument("--no-record", action="store_true", help="skip the module-timed recording")
    p.add_argument("--also-real", action="store_true",
                   help="also run the fast simulator and the replay with --clock real (before)")
    p.add_argument("-k", dest="keyword", help="only the suites' tests matching this expression")
    p.add_argument("--set", choices=testsets.NAMES, default="issue", dest="test_set",
                   help="the issue's set of tests (default; its goals are judged on it) or "
                   "all of suites/ (benchmarks/testsets.py)")
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON here")
    args = p.parse_args()
    targets = testsets.pytest_args(args.test_set, args.keyword)
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        warm = [sys.executable, "-m", "pytest", "suites/", *QUIET, "--collect-only",
                "--reports-dir", str(work / "warm-up")]
        subprocess.run(warm, cwd=ROOT, capture_output=True, env=INNER_ENV, check=False)
        if not args.no_record:
            runs["recording"] = pytest_run(
                "record, module timing (realistic)",
                ["--device", args.device, "--record", str(work / "rec"),
                 "--sim-timing", "realistic"], work / "r1", targets)  # fmt: skip
        runs["fast"] = pytest_run("fast simulator", ["--device", args.device],
                                  work / "r2", targets)  # fmt: skip
        runs["replay"] = pytest_run("replay, shipped cassettes",
                                    ["--device", f"replay:{args.deck}"], work / "r3",
                                    targets)  # fmt: skip
        if args.also_real:
            runs["fast_real"] = pytest_run("fast simulator, --clock real",
                                           ["--device", args.device, "--clock", "real"],
                                           work / "r4", targets)  # fmt: skip
            runs["replay_real"] = pytest_run(
                "replay, shipped cassettes, --clock real",
                ["--device", f"replay:{args.deck}", "--clock", "real"], work / "r5",
                targets)  # fmt: skip
    for run in runs.values():
        print(run.line())
    fast, replay = runs["fast"].stat(), runs["replay"].stat()
    ratio = replay["wall_s"] / fast["wall_s"] if fast["wall_s"] else float("inf")
    goals = {
        "replay_vs_fast": (round(ratio, 3), REPLAY_VS_FAST),
        "replay_median_s": (replay["median_s"], REPLAY_MEDIAN),
        "fast_wall_s": (fast["wall_s"], FAST_TOTAL),
        "fast_p90_s": (fast["p90_s"], FAST_P90),
    }
    # the three in one run, as ratios of wall time (machine load cancels out of these)
    ratios = {"replay_vs_fast": round(ratio, 3)}
    if fast["session_s"]:  # the same without the fixed start of each process (~1.5-3 s)
        ratios["replay_vs_fast_session"] = round(replay["session_s"] / fast["session_s"], 3)
        ratios["replay_vs_fast_cpu"] = round(replay["cpu_s"] / fast["cpu_s"], 3)
        print(f"replay / fast simulator: {ratio:.3f} of the wall time, "
              f"{ratios['replay_vs_fast_session']:.3f} of pytest's session time "
              f"({replay['session_s']:.2f} s / {fast['session_s']:.2f} s), "
              f"{ratios['replay_vs_fast_cpu']:.3f} of the CPU time")
    if "recording" in runs:
        rec = runs["recording"].stat()["wall_s"]
        ratios["replay_vs_recording"] = round(replay["wall_s"] / rec, 4) if rec else None
        ratios["fast_vs_recording"] = round(fast["wall_s"] / rec, 4) if rec else None
        print(f"recording / replay: {rec / replay['wall_s']:.1f}x   "
              f"recording / fast simulator: {rec / fast['wall_s']:.1f}x   "
              f"replay : fast : recording = {ratios['replay_vs_recording']:.3f} : "
              f"{ratios['fast_vs_recording']:.3f} : 1")
    print(f"{'goal':<20} {'measured':>10} {'goal':>8}")
    for name, (got, want) in goals.items():
        print(f"{name:<20} {got:>10.3f} {'<= ' + format(want, 'g'):>8}  "
              f"{'met' if got <= want else 'NOT MET'}")
    broken = [r for r in runs.values() if not r.ok]
    for run in broken:  # a known failing cell is reported, not hidden (the figures stand)
        print(f"\nnote: {run.what} did not fully pass (exit {run.returncode}): "
              f"{(run.tail.strip().splitlines() or [''])[-1]}")
        for line in run.tail.splitlines():
            if line.startswith("FAILED "):
                print(f"  {line[:200]}")
    if args.json:
        out = {"benchmark": "replay_speed", "runs": {k: {**r.stat(), "counts": r.counts}
               for k, r in runs.items()},
               "ratios": ratios,
               "goals": {k: {"measured": g, "goal": w, "met": g <= w}
                         for k, (g, w) in goals.items()}}  # fmt: skip
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0 if all(g <= w for g, w in goals.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
