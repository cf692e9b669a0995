"""A short guard time for the run: what the harness writes after its first command-mode entry.

Every `+++` costs two guard silences (D-ENTER); at the factory GT of 1 s (D-GT) a run of the
suites spends most of its time on them. The harness therefore writes a small GT, and a CT to
match, after its first entry, as part of the run's settings: the session snapshot holds the
module's own values, so every restore (end of run, after a failed test, after Ctrl-C) puts
them back like any other parameter. A profile turns it off (`device.short_guard_time: false`)
for a user who must test the production GT. ASSUMPTION A-SHORT-GT (docs/assumptions.md).
"""

from __future__ import annotations

import math

# GT 0x64 = 100 ms: the value TinyGSM writes for XBee (A-ESCAPE-EDGES evidence), ten times a
# 9600-baud byte and well above a USB adapter's 16 ms latency timer. A-SHORT-GT.
SHORT_GT = 0x64  # ms (D-GT: 0x2-0x6D3)
# CT 0x1E = 3 s (x100 ms, D-ENTER): above the harness's longest pause inside command mode (an
# AI poll every 0.5 s, a CI poll every 0.25 s), so a session is kept; short, so a module an
# interrupted run leaves in command mode is back in its operating mode within seconds.
SHORT_CT = 0x1E
# The shortest guard worth writing, in real seconds: a time-scaled simulator's module GT is
# already this short (fast timing: 1 s x 0.01), and a busy host cannot keep a shorter silence.
MIN_REAL_GUARD = 0.01
GUARD_PARAMS = ("GT", "CT")


def short_guard(time_scale: float = 1.0, *, enabled: bool = True) -> dict[str, int]:
    """The GT and CT to write for the run (module units), or {} when off or not shorter
    than the factory GT at this time scale (a simulator running 100x faster)."""
    if not enabled:
        return {}
    floor_ms = math.ceil(MIN_REAL_GUARD / time_scale * 1000) if time_scale > 0 else SHORT_GT
    gt = max(SHORT_GT, floor_ms)
    if gt >= 0x3E8:  # D-GT default: nothing to gain
        return {}
    return {"GT": gt, "CT": SHORT_CT}
