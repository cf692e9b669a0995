"""`device.first_byte_timeout` (A-FIRST-BYTE-PROFILE): a bench's own first-byte wait, the
cost of every failing transparent cell; checked like any other profile value."""

from __future__ import annotations

from pathlib import Path

from harness.profiles import check, load_profile
from harness.pytest_plugin.devices import FIRST_BYTE_HARDWARE

BASE = "name: bench\ntargets:\n  http:\n    url: http://example.com/\n"


def test_first_byte_timeout_read_from_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(BASE + "device:\n  first_byte_timeout: 5\n", encoding="utf-8")
    assert load_profile(path).device.first_byte_timeout == 5.0
    path.write_text(BASE, encoding="utf-8")
    assert load_profile(path).device.first_byte_timeout is None  # FIRST_BYTE_HARDWARE
    assert FIRST_BYTE_HARDWARE == 30.0


def test_first_byte_timeout_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(BASE + "device:\n  first_byte_timeout: 0\n", encoding="utf-8")
    issues = [str(i) for i in check(path)]
    assert len(issues) == 1
    assert issues[0].startswith(f"{path}:6:") and "device.first_byte_timeout" in issues[0]
