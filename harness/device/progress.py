"""What the harness is waiting for, as one line per change, for whoever listens.

Why: a bench waits minutes (registration, a reset, an upload at 9600 baud, guard times) and
a silent terminal looks hung. The device layer calls `say(topic, text)` where a wait changes
(an AI transition, upload bytes, a reset, a guard time); the pytest side installs a sink that
writes through the terminal reporter (harness/pytest_plugin/budget.py). The device layer
never imports pytest, and with no sink installed `say` costs nothing. A-PROGRESS
(docs/assumptions.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Sink = Callable[[str], None]

# Waits shorter than this are not worth a line (a guard time of 0.1 s, a fast registration).
WORTH_SAYING = 1.5

_sinks: list[Sink] = []
_lock = threading.Lock()


def say(topic: str, text: str) -> None:
    """One line, `topic: text`, to every installed sink (none: nothing happens)."""
    with _lock:
        sinks = list(_sinks)
    for sink in sinks:
        sink(f"{topic}: {text}")


@contextmanager
def listening(sink: Sink) -> Iterator[None]:
    """Install `sink` for the duration of the block."""
    with _lock:
        _sinks.append(sink)
    try:
        yield
    finally:
        with _lock:
            _sinks.remove(sink)


def install(sink: Sink) -> Callable[[], None]:
    """Install `sink` until the returned function is called (for pytest's config cleanup)."""
    with _lock:
        _sinks.append(sink)

    def remove() -> None:
        with _lock:
            if sink in _sinks:
                _sinks.remove(sink)

    return remove
