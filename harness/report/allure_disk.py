"""allure-commons' own file writes on a full reports disk (issue 10 #8, A-REPORTS-FULL).

allure-pytest writes a result file in the test loop, but a fixture's container file when
the fixture is finalized, and session fixtures are finalized in `pytest_sessionfinish`,
outside the loop wrapper that turns ENOSPC into one line: there each container was an
OSError and the run ended in a traceback. This wrapper around allure's write hooks
remembers a full disk (`atomicio.remember`) and lets only the run's first one through, and
only inside the test loop (where `pytest_runtestloop` stops the run with one line); any
other is swallowed (the run already stops on that disk), and a first one met outside the
loop is `pending`, for the end of the session to say once.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import allure_commons

from harness import atomicio


class AllureDiskGuard:
    """An allure-commons plugin around its four write hooks."""

    def __init__(self) -> None:
        self.in_loop = False
        self.unsaid: atomicio.ReportWriteError | None = None  # first met outside the loop

    def _guard(self) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except OSError as exc:
            if exc.errno not in atomicio.FULL:
                raise
            known = atomicio.failure(Path("/")) is not None  # the run already stops on one
            err = atomicio.remember(Path(exc.filename or "."), exc)
            if known:
                return None
            if self.in_loop:
                raise err from None
            self.unsaid = err
            return None

    @allure_commons.hookimpl(wrapper=True)
    def report_result(self, result: Any) -> Generator[None, Any, Any]:
        return (yield from self._guard())

    @allure_commons.hookimpl(wrapper=True)
    def report_container(self, container: Any) -> Generator[None, Any, Any]:
        return (yield from self._guard())

    @allure_commons.hookimpl(wrapper=True)
    def report_attached_file(self, source: Any, file_name: Any) -> Generator[None, Any, Any]:
        return (yield from self._guard())

    @allure_commons.hookimpl(wrapper=True)
    def report_attached_data(self, body: Any, file_name: Any) -> Generator[None, Any, Any]:
        return (yield from self._guard())

    def pending(self) -> atomicio.ReportWriteError | None:
        """The run's first full disk, when met outside the loop (no line said it yet)."""
        return self.unsaid
