"""A full reports disk loses no result and stops the run with one line (issue 10, defect 8).

The original: `matrix.md` truncated to 0 bytes, `matrix.json` missing, `stats.jsonl` ending
in half a line, and an INTERNALERROR. The disk is a real 64 KB tmpfs where it can be mounted
(we run as root in CI); where it cannot, and always in the `injected` variant, the one
write seam (`harness.atomicio._write`) is given a byte budget and then fails with ENOSPC.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import atomicio, report
from harness.capture import CaptureWriter, read_capture

ROOT = Path(__file__).resolve().parents[2]


class Disk:
    """A reports folder on a disk that can be filled: a real tmpfs, or an injected budget."""

    def __init__(self, path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path, self.kind, self._mp = path, kind, monkeypatch
        self.budget: int | None = None

    def fill(self, room: int = 0) -> None:
        """Leave about `room` bytes free."""
        if self.kind == "tmpfs":
            filler = self.path / ".filler"
            with contextlib.suppress(OSError), open(filler, "ab") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
            if room:
                os.truncate(filler, max(0, filler.stat().st_size - room))
            return
        self.budget = room
        real = os.write

        def write(fd: int, data) -> int:
            assert self.budget is not None
            if self.budget <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            n = real(fd, bytes(data[: self.budget]))
            self.budget -= n
            return n

        self._mp.setattr(atomicio, "_write", write)


def _mount_tmpfs(path: Path) -> bool:
    if os.geteuid() != 0:
        return False
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                         capture_output=True, check=False)  # fmt: skip
    return run.returncode == 0


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path, monkeypatch) -> Iterator[Disk]:
    path = tmp_path / "reports"
    path.mkdir()
    # a tmpfs that cannot be mounted (no privilege) falls back to the injected budget
    kind = "tmpfs" if request.param == "tmpfs" and _mount_tmpfs(path) else "injected"
    try:
        yield Disk(path, kind, monkeypatch)
    finally:
        if kind == "tmpfs":
            subprocess.run(["umount", "-l", str(path)], check=False)


def _matrix() -> report.Matrix:
    m = report.Matrix()
    m.add("test_https_get", "transparent", "root-ca", report.Outcome.PASSED, test="t[x]")
    return m


def test_a_full_disk_keeps_the_old_matrix_whole_and_names_the_disk(disk):
    old = report.write_matrix(_matrix(), disk.path)
    before = {p.name: p.read_bytes() for p in old}
    disk.fill()
    with pytest.raises(BaseException) as info:
        report.write_matrix(_matrix(), disk.path)
    text = str(info.value)
    assert "reports disk full" in text and str(disk.path) in text and "\n" not in text
    assert info.type is not OSError and "Exit" in info.typename  # pytest stops, no traceback
    for name, data in before.items():  # nothing truncated, nothing half-written
        assert (disk.path / name).read_bytes() == data
    assert not [p for p in disk.path.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_keeps_every_capture_line_whole(disk):
    disk.fill(room=8192)
    path = disk.path / "captures" if disk.kind == "injected" else disk.path
    cap = CaptureWriter(path / "c.jsonl", test="t", device="sim")
    for i in range(2000):  # ~70 bytes a line: far more than the room left
        cap.wire("rx", b"OK\r" * (i % 7 + 1))
        cap.note("note", text=f"event {i}")
    cap.close()
    assert cap.error is not None and "reports disk full" in str(cap.error)
    raw = (path / "c.jsonl").read_bytes()
    assert raw.endswith(b"\n") and len(raw) > 100
    c = read_capture(path / "c.jsonl")  # every line whole: no "truncated line" error
    assert c.events
    assert atomicio.failure(disk.path) is not None


INJECT = '''
import errno, os
from harness import atomicio

def _full(fd, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

atomicio._write = _full
'''


def test_a_run_on_a_full_disk_stops_with_one_line_and_no_internalerror(disk, tmp_path):
    old = report.write_matrix(_matrix(), disk.path)
    before = {p.name: p.read_bytes() for p in old}
    env = dict(os.environ)
    args = [sys.executable, "-m", "pytest", "suites/test_https.py", "-q",
            "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
            "--mode", "transparent", "--tls-variant", "root-ca", "--tls-variant", "leaf-as-ca",
            "--reports-dir", str(disk.path)]  # fmt: skip
    if disk.kind == "tmpfs":
        disk.fill()
    else:
        (tmp_path / "inject_full_disk.py").write_text(INJECT)
        env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
        args += ["-p", "inject_full_disk"]
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                         check=False)  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    lines = [line for line in out.splitlines() if "reports disk full" in line]
    assert lines and all(str(disk.path) in line for line in lines), out[-3000:]
    assert len(lines) <= 2, out[-3000:]  # the stop, and the matrix it could not write
    for name, data in before.items():
        assert (disk.path / name).read_bytes() == data
    stats = disk.path / "stats.jsonl"
    if stats.exists():
        for line in stats.read_text().splitlines(keepends=True):
            assert line.endswith("\n")
            json.loads(line)
