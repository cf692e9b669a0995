"""Record on the simulator, replay anywhere: how much faster is `pytest suites/` replayed?

Three real pytest runs of the suites, each in its own process, timed from outside:

1. `pytest suites/ --record DIR --sim-timing realistic`: the simulator at a module's timing
   (real-time clock, UART paced at BD, cellular round trip, TLS handshake), which is what a
   recording on a bench costs;
2. the same with `--sim-timing fast` (the suites' default), for comparison;
3. `pytest suites/ --device replay:DIR` against the realistic recording.

Every run must pass (a failed or errored test is a broken benchmark, exit 2). The figure
is the wall time of recording (realistic) over replay; goal: replay at least 5x faster.
Not part of the test run.

    python benchmarks/replay_speed.py [--device sim:ltem-11415] [--keep DIR] [-k EXPR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GOAL = 5.0
ROOT = Path(__file__).resolve().parents[1]
# Inner runs: no Allure, no cache, no hypothesis plugin (nothing of theirs is measured).
QUIET = ("-q", "-p", "no:cacheprovider", "-p", "no:allure_pytest", "-p", "no:hypothesispytest")
_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|error|errors)")


@dataclass
class Run:
    what: str
    seconds: float
    counts: dict[str, int]
    returncode: int
    tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.counts.get("failed") and not (
            self.counts.get("error") or self.counts.get("errors"))  # fmt: skip

    def line(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts.items()) or "no summary"
        return f"{self.what:<34} {self.seconds:8.2f} s   ({counts})"


def pytest_run(what: str, args: list[str], reports: Path) -> Run:
    cmd = [sys.executable, "-m", "pytest", "suites/", *QUIET, "--reports-dir", str(reports),
           *args]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {kind: int(n) for n, kind in _COUNTS.findall(last)}
    return Run(what, seconds, counts, proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="sim", help="the simulator to record (sim, sim:NAME)")
    p.add_argument("--keep", metavar="DIR", help="record into DIR and keep it")
    p.add_argument("-k", dest="keyword", help="only the suites' tests matching this expression")
    p.add_argument("--no-fast", action="store_true", help="skip the fast recording")
    args = p.parse_args()
    extra = ["-k", args.keyword] if args.keyword else []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        deck = Path(args.keep).resolve() if args.keep else work / "cassettes"
        runs = [
            pytest_run(
                "record, realistic timing",
                ["--device", args.device, "--record", str(deck), "--sim-timing", "realistic",
                 *extra], work / "r1",
            )
        ]  # fmt: skip
        if not args.no_fast:
            runs.append(
                pytest_run(
                    "record, fast timing",
                    ["--device", args.device, "--record", str(work / "fast"), *extra],
                    work / "r2",
                )
            )
        runs.append(pytest_run("replay of the realistic recording",
                               ["--device", f"replay:{deck}", *extra], work / "r3"))  # fmt: skip
        size = sum(f.stat().st_size for f in deck.rglob("*") if f.is_file())
        count = len(list(deck.glob("*.jsonl")))
    for run in runs:
        print(run.line())
    broken = [r for r in runs if not r.ok]
    for run in broken:
        print(f"\n{run.what} did not pass (exit {run.returncode}):\n{run.tail}")
    if broken:
        return 2
    record, replay = runs[0].seconds, runs[-1].seconds
    ratio = record / replay if replay else float("inf")
    print(f"cassettes: {count} files, {size / 1024:.0f} KiB with their PKI")
    verdict = "OK" if ratio >= GOAL else "BELOW GOAL"
    print(f"replay is {ratio:.1f}x faster than a realistic recording (goal >= {GOAL:g}x) {verdict}")
    if not args.no_fast:
        print(f"(and {runs[1].seconds / replay:.1f}x faster than a fast recording)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
