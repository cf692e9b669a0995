"""Recordings of "identical runs" for the tests of `capture diff` and bench replay.

On a loaded machine the harness's `+++` sometimes misses its guard time and the module does
not answer it; the harness then recovers (`\\r`, `AT\\r`, `+++` again) and what follows
happens later. That run is not identical to one whose escape worked, so a test that needs
two identical runs records again (up to `ATTEMPTS` times) when a cassette shows one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.capture import read_capture
from harness.replay.script import build_script

ATTEMPTS = 3


def escape_failed(cassette: Path) -> bool:
    """A host unit with `+++` that the module did not answer `OK` right after."""
    steps = build_script(read_capture(cassette), by_time=False)
    for n, step in enumerate(steps):
        if step.action != "expect" or b"+++" not in step.raw:
            continue
        after = steps[n + 1] if n + 1 < len(steps) else None
        if after is None or after.action != "emit" or not after.raw.startswith(b"OK"):
            return True
    return False


def record_clean(record: Callable[[int], Path]) -> Path:
    """`record(attempt)` → a deck; again while a cassette of it shows a failed escape."""
    deck = record(0)
    for attempt in range(1, ATTEMPTS):
        if not any(escape_failed(p) for p in deck.glob("*.jsonl")):
            break
        deck = record(attempt)
    return deck
