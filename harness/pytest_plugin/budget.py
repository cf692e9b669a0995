"""Session-level waits get their own budgets; the per-test timeout bounds the test body.

Why: `pytest.ini`'s `timeout` (pytest-timeout) covers a test's setup too, and the first test
that asks for the module pays the session's waits: opening the port, the registration the
profile allows minutes for, certificate uploads. A slow attach then errored every test in
setup. Here a session-level wait pauses the item's pytest-timeout timer (through its own
`pytest_timeout_cancel_timer` / `pytest_timeout_set_timer` hooks), runs under a timer of its
own budget (from the profile), and gives the test what was left of its time afterwards. A
wait that runs over its budget is `ModuleBroken`: the documented one-reason stop.

Also the terminal side of `harness.device.progress`: one line per change while the harness
waits, through the terminal reporter (outside output capture). The hooks that call these
are in harness/pytest_plugin/hooks.py (`pytest_configure`, `pytest_runtest_protocol`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.pytest_plugin.session import ModuleBroken

# Beyond its budget, a wait's own bounds (registration timeout, reset timeout) should have
# ended it; the timer is the backstop for a wait with none.
GRACE = 10.0
_ITEM = pytest.StashKey[pytest.Item]()
_TIMER = pytest.StashKey[tuple[Any, float]]()  # pytest-timeout settings, when it started


class TimerTracker:
    """Remembers, per item, the pytest-timeout timer that is running and since when."""

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> None:
        item.stash[_TIMER] = (settings, time.monotonic())

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> None:
        with contextlib.suppress(KeyError):
            del item.stash[_TIMER]


def enter(item: pytest.Item) -> None:
    """`item` is the test running now (its timer is the one a session wait pauses)."""
    item.config.stash[_ITEM] = item


def leave(item: pytest.Item) -> None:
    with contextlib.suppress(KeyError):
        del item.config.stash[_ITEM]


def terminal_line(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capman = config.pluginmanager.get_plugin("capturemanager")
    quiet = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with quiet:
        reporter.ensure_newline()
        reporter.write_line(f"xbee-hil: {line}")


@contextlib.contextmanager
def session_wait(config: pytest.Config, what: str, budget: float) -> Iterator[None]:
    """Run a session-level wait outside the current test's timeout, bounded by `budget`."""
    item = config.stash.get(_ITEM, None)
    running = item.stash.get(_TIMER, None) if item is not None else None
    hook = config.hook
    if item is None or running is None or not hasattr(hook, "pytest_timeout_set_timer"):
        yield
        return
    settings, started = running
    left = max(settings.timeout - (time.monotonic() - started), 1.0)
    hook.pytest_timeout_cancel_timer(item=item)
    hook.pytest_timeout_set_timer(item=item, settings=settings._replace(timeout=budget + GRACE))
    try:
        yield
    except pytest.fail.Exception as exc:
        if str(exc).startswith("Timeout"):  # our backstop fired (pytest-timeout's message)
            raise ModuleBroken(f"{what} ran over its budget of {budget:g} s") from None
        raise
    finally:
        hook.pytest_timeout_cancel_timer(item=item)
        hook.pytest_timeout_set_timer(item=item, settings=settings._replace(timeout=left))
