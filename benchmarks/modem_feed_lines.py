"""`Modem.feed` must be linear in the command lines of one call (issue 10, defect 13).

A host that writes many command lines in one write (a script, a paste, a fuzzer) reaches
`Modem.feed` as one call. It used to take 1.5 s for 64 KB of CRs and 27 s for 256 KB: the
rest of the input was copied after each line, and each reply was joined to all the replies
before it. This feeds N and 4N bare CRs (one reply each) in one call, in the same process,
and reports the ratio of the times: about 4 when linear, about 16 when quadratic.

    python benchmarks/modem_feed_lines.py [--kb 64] [--repeat 3]

Exit status 1 when the ratio exceeds --max-ratio (default 8: halfway to quadratic).
"""

from __future__ import annotations

import argparse
import time

from harness.sim.core.modem import Modem


def _in_command_mode() -> Modem:
    modem = Modem("cat1-3100C", features=[])
    modem.power_on(0.0)
    modem.tick(60.0)  # registered
    modem.feed(b"+++", 62.0)  # GT of silence before and after (D-ENTER)
    modem.tick(64.0)
    assert modem.in_command_mode
    return modem


def feed_seconds(n: int, repeat: int) -> float:
    """The best of `repeat` timings of one `feed` of n CRs; checks every line got its reply."""
    best = float("inf")
    for _ in range(repeat):
        modem = _in_command_mode()
        data = b"\r" * n
        start = time.perf_counter()
        effects = modem.feed(data, 64.5)
        took = time.perf_counter() - start
        answered = sum(getattr(e, "data", b"").count(b"\r") for e in effects)
        if answered != n:
            raise SystemExit(f"{n} lines fed, {answered} answered")
        best = min(best, took)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kb", type=int, default=64, help="the smaller feed, KB of CRs")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--max-ratio", type=float, default=8.0)
    args = p.parse_args(argv)
    small, large = args.kb * 1024, 4 * args.kb * 1024
    t_small = feed_seconds(small, args.repeat)
    t_large = feed_seconds(large, args.repeat)
    ratio = t_large / t_small
    print(f"feed {small // 1024} KB of lines: {t_small * 1000:.1f} ms")
    print(f"feed {large // 1024} KB of lines: {t_large * 1000:.1f} ms")
    print(f"ratio {ratio:.2f} for 4x the input (linear ~4, quadratic ~16; limit "
          f"{args.max_ratio:g})")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    raise SystemExit(main())
