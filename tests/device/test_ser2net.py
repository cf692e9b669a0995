"""`rfc2217://` to a real ser2net serving a pty works out of the box (issue 9, observation 7).

ser2net 4 on a pty never acknowledges pyserial's SET_CONTROL, so a plain
`rfc2217://host:port` failed with "timeout while waiting for option 'control'"; the harness
adds `?ign_set_control` itself (A-RFC2217-IGN-CONTROL). Skipped when ser2net is not installed
(`apt-get install ser2net`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.device.module import Module
from harness.device.transport import open_device

SER2NET = shutil.which("ser2net") or (
    "/usr/sbin/ser2net" if Path("/usr/sbin/ser2net").exists() else None
)
pytestmark = pytest.mark.skipif(SER2NET is None, reason="ser2net is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ser2net_url(tmp_path: Path, start_sim: Any) -> Iterator[str]:
    """The simulator on a pty, served by a real ser2net as RFC 2217 on loopback."""
    pty = start_sim(registering_s=0.05, nvm={"GT": 0x32}).path
    port = _free_port()
    config = tmp_path / "ser2net.yaml"
    config.write_text(
        "connection: &sim\n"
        f"  accepter: telnet(rfc2217),tcp,127.0.0.1,{port}\n"
        f"  connector: serialdev,{pty},9600n81,local\n"
        "  options:\n    kickolduser: true\n",
        encoding="utf-8",
    )
    assert SER2NET is not None
    proc = subprocess.Popen(
        [SER2NET, "-n", "-c", str(config), "-P", str(tmp_path / "ser2net.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"rfc2217://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("suffix", ["", "?ign_set_control"])
def test_rfc2217_to_ser2net_on_a_pty_works_as_given(ser2net_url: str, suffix: str) -> None:
    tap = open_device(ser2net_url + suffix)
    module = Module(tap, guard_time=0.05)
    try:
        assert module.detect_mode() == "transparent"
        assert module.read(["VR"]) == {"VR": 0x3100C}
    finally:
        module.close()
        tap.close()
    assert tap.spec == ser2net_url + suffix  # messages name the port as the user wrote it
