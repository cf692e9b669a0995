"""Two simulators as two devices: serial vs `-n 2` (issue 14, pytest-xdist).

Real pytest runs of the suites, each in its own process, timed from outside:
`pytest suites/ --device sim --device sim:ltem-11415` (two simulated modules, each the
device of its own share of the tests), once serial and once with `-n 2`, where each device
is one worker's (harness/pytest_plugin/xdist_support.py). Printed: the wall times, their
ratio (`-n 2` ÷ serial; 0.5 is two modules perfectly side by side), and whether both runs
wrote the same matrix cells. `--timing realistic` puts module time (guard times, network,
registration) in the simulators, as a bench has it; `fast` (the suites' default) is mostly
CPU. The figures also go to `benchmarks/results/parallel_devices.json` (`--json FILE`).

    python benchmarks/parallel_devices.py [--timing fast|realistic] [--repeat N] [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "parallel_devices.json"
DEVICES = ("--device", "sim", "--device", "sim:ltem-11415")
# Inner runs: no Allure, no cache, no hypothesis plugin (nothing of theirs is measured).
QUIET = ("-q", "-p", "no:cacheprovider", "-p", "no:allure_pytest", "-p", "no:hypothesispytest")
GOAL = 0.75  # "clearly below the serial run's": -n 2 at most three quarters of serial
_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|error|errors)")


@dataclass
class Run:
    what: str
    seconds: float
    counts: dict[str, int]
    returncode: int
    cells: list[tuple[str, str, str, str]]
    tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.counts.get("failed") and not (
            self.counts.get("error") or self.counts.get("errors"))  # fmt: skip

    def line(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts.items()) or "no summary"
        return f"{self.what:<28} {self.seconds:7.2f} s  ({counts}; {len(self.cells)} cells)"


def pytest_run(what: str, args: list[str], reports: Path) -> Run:
    cmd = [sys.executable, "-m", "pytest", "suites/", *QUIET, *DEVICES,
           "--reports-dir", str(reports), *args]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {kind: int(n) for n, kind in _COUNTS.findall(last)}
    cells: list[tuple[str, str, str, str]] = []
    matrix = reports / "matrix.json"
    if matrix.is_file():
        for c in json.loads(matrix.read_text(encoding="utf-8"))["cells"]:
            cells.append((c["group"], c["tls_variant"], c["mode"], c["text"]))
    return Run(what, seconds, counts, proc.returncode, cells, (proc.stdout + proc.stderr)[-3000:])


def _whole(run: Run) -> bool:
    """The run ran every test: none skipped because a module was marked broken."""
    return "module broken" not in run.tail and bool(run.counts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timing", choices=("fast", "realistic"), default="fast",
                   help="the simulators' timing (--sim-timing)")  # fmt: skip
    p.add_argument("--repeat", type=int, default=1, help="runs of each; the median is kept")
    p.add_argument("-k", dest="keyword", help="only the tests pytest -k selects")
    p.add_argument("--json", metavar="FILE", help="where the figures go as JSON")
    args = p.parse_args(argv)
    extra = ["--sim-timing", args.timing]
    if args.keyword:
        extra += ["-k", args.keyword]
    serial: list[Run] = []
    parallel: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="parallel-devices-") as tmp:
        for n in range(args.repeat):  # interleaved: a busy machine weighs on both alike
            serial.append(pytest_run("serial", extra, Path(tmp) / f"serial-{n}"))
            print(serial[-1].line(), flush=True)
            parallel.append(pytest_run("-n 2", [*extra, "-n", "2"], Path(tmp) / f"xdist-{n}"))
            print(parallel[-1].line(), flush=True)
    bad = [r for r in serial + parallel if not r.ok]
    for r in bad:  # a failed cell still counts as run; a broken module skips the rest
        print(f"\n{r.what} did not pass (exit {r.returncode}):\n{r.tail[-600:]}", file=sys.stderr)
    # a pair counts when both ran every test (a module the busy machine broke skips the rest)
    pairs = [(a, b) for a, b in zip(serial, parallel, strict=True) if _whole(a) and _whole(b)]
    comparable = bool(pairs)
    use_s, use_p = ([a for a, _ in pairs], [b for _, b in pairs]) if pairs else (serial, parallel)
    s_wall = statistics.median(r.seconds for r in use_s)
    p_wall = statistics.median(r.seconds for r in use_p)
    ratio = statistics.median(b.seconds / a.seconds for a, b in pairs) if pairs else (
        p_wall / s_wall)  # fmt: skip
    first = set(serial[0].cells)
    differ = max(len(first.symmetric_difference(r.cells)) for r in serial + parallel)
    load = os.getloadavg()[0]
    print(f"\ntwo simulators as two devices, --sim-timing {args.timing}, "
          f"{os.cpu_count()} CPUs (load {load:.1f}), median of {len(pairs)} whole pair(s) "
          f"of {args.repeat}:")  # fmt: skip
    verdict = "met" if ratio <= GOAL else "NOT met"
    if not comparable:
        verdict += "; NOT comparable: no pair where both runs ran every test"
    print(f"  serial {s_wall:.2f} s, -n 2 {p_wall:.2f} s: ratio {ratio:.2f} "
          f"(goal <= {GOAL}: {verdict})")  # fmt: skip
    print(f"  matrix cells that differ between runs: {differ}"
          + (" (a failed timing-sensitive cell on a busy machine differs run to run)"
             if differ else ""))  # fmt: skip
    out = {
        "timing": args.timing, "repeat": args.repeat, "cpus": os.cpu_count(),
        "load_avg": os.getloadavg()[0], "keyword": args.keyword,
        "serial_s": [round(r.seconds, 3) for r in serial],
        "parallel_s": [round(r.seconds, 3) for r in parallel],
        "serial_median_s": round(s_wall, 3), "parallel_median_s": round(p_wall, 3),
        "ratio": round(ratio, 3), "goal": GOAL, "goal_met": ratio <= GOAL,
        "comparable": comparable, "whole_pairs": len(pairs),
        "cells": len(serial[0].cells), "cells_differ": differ,
        "counts": {r.what: r.counts for r in (serial[0], parallel[0])}, "all_passed": not bad,
    }  # fmt: skip
    path = Path(args.json) if args.json else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"  wrote {path}")
    return 0 if comparable else 1


if __name__ == "__main__":
    sys.exit(main())
