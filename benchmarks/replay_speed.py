"""Replay against simulation: the suites' exchanges recorded on the simulator, then replayed.

Each scenario is what a suite test does to the module (the forum's leaf-as-CA GET with
CI 0x26, HTTP GET in transparent and API mode, HTTPS with the root as CA over 0x23), run by
the device layer against the suites' simulator rig (`harness.simrig.start_rig`, its default
fast time scale) with one cassette per scenario, as `--record DIR` would. Then the same
code runs against one `ReplayServer` on a pty, loading each cassette in turn as the plugin
does for `--device replay:DIR`. Goal: replay at least 5x faster than the simulator.

The plugin does not start the replay device yet (`harness/fixtures.py` raises for
`replay:`), so the suites themselves cannot be replayed through pytest; this drives the same
device-layer calls the suites' fixtures make.

    python benchmarks/replay_speed.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import variants
from harness.capture import CaptureWriter
from harness.cassette import Recording, cassette_path, stamp
from harness.device.configure import Configurator, Module
from harness.device.files import Files
from harness.device.http import Http
from harness.device.transport import open_device
from harness.sim.replay import ReplayServer
from harness.simrig import start_rig

GOAL = 5.0
PERSONALITY = "cat1-3100C"
Scenario = Callable[[Module, dict[str, Any]], Any]


def _https(variant_name: str, mode: str, forum: bool = False) -> Scenario:
    def run(module: Module, rig: dict[str, Any]) -> Any:
        variant = variants.get(variant_name)
        conf = Configurator(module)
        for upload in variant.uploads:
            Files(module).put(rig["files"][upload.pki], upload.name, secure=upload.secure)
        wanted: dict[str, Any] = {"$0": variant.profile}
        if forum:  # F-HTTPS first post: IP=4, TL=3, DL=google.com, DE=1BB
            wanted.update({"IP": 4, "TL": 3, "DL": "google.com", "DE": 0x1BB})
        conf.apply(wanted, mode)
        result = Http(module, timeout=5).get(rig["urls"]["https"], first_byte_timeout=2)
        return result.status, [str(c) for c in result.codes]

    return run


def _http(mode: str) -> Scenario:
    def run(module: Module, rig: dict[str, Any]) -> Any:
        conf = Configurator(module)
        conf.apply({"IP": 1, "DL": "google.com", "DE": 80}, mode)
        result = Http(module, timeout=5).get(rig["urls"]["http"])
        return result.status, len(result.body)

    return run


SCENARIOS: dict[str, Scenario] = {
    "suites/test_forum_thread.py::test_first_post_leaf_as_ca_is_refused": _https(
        "leaf-as-ca", "transparent", forum=True
    ),
    "suites/test_http.py::test_http_get[transparent]": _http("transparent"),
    "suites/test_http.py::test_http_get[api]": _http("api"),
    "suites/test_https.py::test_https_get[api-root-ca]": _https("root-ca", "api"),
    "suites/test_https.py::test_https_get[transparent-no-ca]": _https("no-ca", "transparent"),
}


def record(
    directory: Path, *, realistic: bool = False
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """Run every scenario on the simulator, one cassette each: wall seconds, results, and
    what the replay needs: the certificates uploaded (a bench's profile would name them) and
    the module's CT as the harness knew it."""
    started = time.perf_counter()
    results: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    if realistic:  # a module's own clock: GT 1 s, registration, UART at BD, cellular RTT
        timing = {"time_scale": 1.0, "uart_pacing": True, "latency": 0.2,
                  "tls_handshake_time": 0.5}  # fmt: skip
    with tempfile.TemporaryDirectory() as work, start_rig(PERSONALITY, work, **timing) as rig:
        tap = open_device(rig.path)
        module = Module(tap, guard_time=rig.guard_time, **rig.command_timing)
        env = {
            "urls": rig.urls,
            "files": {n: rig.pki.read(n) for n in ("root_ca", "server_cert")},
        }
        try:
            for nodeid, scenario in SCENARIOS.items():
                writer = CaptureWriter(cassette_path(directory, nodeid), test=nodeid,
                                       device=rig.path, personality=PERSONALITY)  # fmt: skip
                stamp(writer, Recording("simulator", personality=PERSONALITY))
                tap.capture = writer
                try:
                    Configurator(module).wait_registered(timeout=30, poll=0.05)
                    results[nodeid] = scenario(module, env)
                finally:
                    tap.capture = None
                    writer.close()
        finally:
            module.close()
            tap.close()
        env["command_timeout"] = rig.command_timing["command_timeout"]
    return time.perf_counter() - started, results, env


def replay(
    directory: Path, recorded: dict[str, Any], *, fold: bool = True
) -> tuple[float, dict[str, Any]]:
    """Run every scenario against its cassette on one replay pty; (wall seconds, results).

    The guard time can be tiny (a cassette does not check silence), but CT must be what the
    harness knew when recording: it decides when the harness thinks command mode ended.
    `fold`: runs of identical polls (AI while registering, CI while connecting) play once,
    so the harness's poll sleeps do not set the pace."""
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with ReplayServer(fold_polls=fold) as server:
        tap = open_device(server.start_pty())
        module = Module(tap, guard_time=0.01, max_guard_time=0.02,
                        command_timeout=recorded["command_timeout"])  # fmt: skip
        env = {"urls": {"http": "http://google.com/", "https": "https://google.com/"},
               "files": recorded["files"]}  # fmt: skip
        try:
            for nodeid, scenario in SCENARIOS.items():
                server.load(cassette_path(directory, nodeid))
                Configurator(module).wait_registered(timeout=30, poll=0.05)
                results[nodeid] = scenario(module, env)
                server.finish().check()
        finally:
            module.close()
            tap.close()
    return time.perf_counter() - started, results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    p.add_argument("--keep", metavar="DIR", help="keep the cassettes in DIR")
    p.add_argument("--strict", action="store_true",
                   help="replay every recorded poll (no folding of identical exchanges)")
    p.add_argument("--realistic", action="store_true",
                   help="record at a module's timing (time scale 1, UART pacing, 200 ms RTT) "
                   "instead of the suites' fast default")
    args = p.parse_args()
    rec_times, rep_times = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(args.keep or tmp)
            directory.mkdir(parents=True, exist_ok=True)
            t_rec, recorded, env = record(directory, realistic=args.realistic)
            t_rep, replayed = replay(directory, env, fold=not args.strict)
            if replayed != recorded:
                print(f"replayed results differ:\n  recorded {recorded}\n  replayed {replayed}")
                return 1
            rec_times.append(t_rec)
            rep_times.append(t_rep)
    rec, rep = statistics.median(rec_times), statistics.median(rep_times)
    ratio = rec / rep if rep else float("inf")
    print(f"scenarios: {len(SCENARIOS)} ({', '.join(n.split('::')[1] for n in SCENARIOS)})")
    mode = "realistic timing" if args.realistic else "fast (suites' default)"
    print(f"simulator (record): {rec:7.3f} s   median of {args.repeat}, {mode}")
    how = "every poll" if args.strict else "identical polls folded"
    print(f"replay            : {rep:7.3f} s   median of {args.repeat}, {how}")
    print(f"ratio             : {ratio:7.1f}x  (goal >= {GOAL:g}x) "
          f"{'OK' if ratio >= GOAL else 'BELOW GOAL'}")  # fmt: skip
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
