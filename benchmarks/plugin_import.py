"""What the xbee-hil plugin costs a pytest run that does not use it (issues 13 and 14).

The plugin is a `pytest11` entry point, so it is imported into every pytest run of the
environment. Measured in one process run, each figure the median of N fresh interpreters:

- import: `import pytest` + the plugin entry and every module it registers (the hooks
  included), against a bare `import pytest`: the plugin's own share of startup;
- run: `pytest` on an unrelated one-test project, with the plugin installed against
  `-p no:xbee_hil`: what an unrelated project pays per run.

Printed as ratios (1.00 is free); JSON to `benchmarks/results/plugin_import.json` (`--json`).

    python benchmarks/plugin_import.py [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "plugin_import.json"
ENTRY = (
    "import importlib, pytest, harness.pytest_plugin.plugin as p\n"
    "for m in p.pytest_plugins: importlib.import_module(m)\n"
)
BARE = "import pytest\n"
PROJECT = "def test_one():\n    assert 1 + 1 == 2\n"
# Inner runs: no cache and no bytecode writes in the project (nothing of theirs is measured).
RUN = ("-m", "pytest", "-q", "-p", "no:cacheprovider")


def wall(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def median_pair(a: list[str], b: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    """Medians of a and b, alternated so the machine's load falls on both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(wall(a, cwd))
        tb.append(wall(b, cwd))
    return statistics.median(ta), statistics.median(tb)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="xbee-unrelated-") as tmp:
        project = Path(tmp)
        (project / "test_unrelated.py").write_text(PROJECT)
        wall([py, *RUN], project)  # warm-up: the OS's file cache
        imp_plugin, imp_bare = median_pair(
            [py, "-c", ENTRY], [py, "-c", BARE], project, args.repeat
        )
        run_with, run_without = median_pair(
            [py, *RUN], [py, *RUN, "-p", "no:xbee_hil"], project, args.repeat
        )
    result = {
        "repeat": args.repeat,
        "import_plugin_s": round(imp_plugin, 4),
        "import_pytest_s": round(imp_bare, 4),
        "import_ratio": round(imp_plugin / imp_bare, 3),
        "import_extra_s": round(imp_plugin - imp_bare, 4),
        "run_with_plugin_s": round(run_with, 4),
        "run_without_plugin_s": round(run_without, 4),
        "run_ratio": round(run_with / run_without, 3),
        "run_extra_s": round(run_with - run_without, 4),
    }
    print(f"plugin import cost (median of {args.repeat} fresh interpreters each)")
    print(
        f"  import pytest + plugin : import pytest   {result['import_ratio']:.2f}x  "
        f"({imp_plugin:.3f} s vs {imp_bare:.3f} s, +{imp_plugin - imp_bare:.3f} s)"
    )
    print(
        f"  unrelated 1-test run, plugin : -p no:xbee_hil   {result['run_ratio']:.2f}x  "
        f"({run_with:.3f} s vs {run_without:.3f} s, +{run_with - run_without:.3f} s)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
