"""The frame decorator is a `dataclass_transform`: a type checker sees each frame's fields,
so a constructor call with a wrong argument is a type error, not an `Any` that passes."""

from __future__ import annotations

import pytest

api_mypy = pytest.importorskip("mypy.api")

SNIPPET = """
from harness.xbee import api
good: api.ATCommand = api.ATCommand(1, "AP")
bad = api.SocketConnect(1, 2, 3)
wrong = api.ATCommand(frame_id="one", command="AP")
"""


def test_frame_constructors_type_check(tmp_path) -> None:
    src = tmp_path / "use_frames.py"
    src.write_text(SNIPPET)
    cache = str(tmp_path / "cache")
    args = [str(src), "--no-incremental", "--cache-dir", cache, "--follow-imports", "silent"]
    out, err, _ = api_mypy.run([*args, "--config-file", ""])
    lines = [line for line in out.splitlines() if "error:" in line]
    assert any(":4:" in line and "SocketConnect" in line for line in lines), out + err
    assert any(":5:" in line and "frame_id" in line for line in lines), out + err
    assert not any(":3:" in line for line in lines), out
