"""Report files that survive a full disk: written whole or not at all (issue 10, defect 8).

A reports disk that fills up mid-run left `matrix.md` at 0 bytes, no `matrix.json` and
`stats.jsonl` ending in half a line. Here a whole file goes to a temporary file in the same
folder and is renamed over the old one only once it is complete (`write_atomic`), and a
line file gets whole lines or nothing (`LineFile`: a line that does not fit is cut off
again). A failure is a `ReportWriteError` whose text is one line naming the file; the first
ones are remembered so the run can stop on them (`failure`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from pathlib import Path

FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_write = os.write  # the one place bytes go to disk (a test can make it fail)


class ReportWriteError(OSError):
    """A report file that could not be written; `str()` is one line naming it."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = path
        what = "reports disk full" if cause.errno in FULL else "cannot write report"
        self.line = f"{what}: {path}: {cause.strerror or cause}"

    def __str__(self) -> str:
        return self.line


_failures: list[ReportWriteError] = []
_lock = threading.Lock()


def _fail(path: Path, cause: OSError) -> ReportWriteError:
    err = cause if isinstance(cause, ReportWriteError) else ReportWriteError(path, cause)
    with _lock:
        if len(_failures) < 16:
            _failures.append(err)
    return err


def remember(path: Path, cause: OSError) -> ReportWriteError:
    """Note a write failure made elsewhere (allure-pytest's files) so the run can stop on it."""
    return _fail(path, cause)


def failure(under: Path) -> ReportWriteError | None:
    """The first write failure of a file under `under` in this process, if any."""
    under = Path(under).absolute()
    with _lock:
        for err in _failures:
            if err.path.absolute().is_relative_to(under):
                return err
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[_write(fd, view) :]


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write `path` whole, or leave whatever was there: temporary file, fsync, rename."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            _write_all(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise _fail(path, exc) from None
    return path


class LineFile:
    """A run-long file of lines, each written whole or not at all, each at once (no buffer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise _fail(self.path, exc) from None
        self._size = 0

    def write_line(self, line: str) -> None:
        """Append `line` (ending in a newline); on failure the file ends where it did."""
        if self._fd is None:
            raise ValueError(f"{self.path}: closed")
        data = line.encode("utf-8")
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
            raise _fail(self.path, exc) from None
        self._size += len(data)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
