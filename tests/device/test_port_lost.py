"""Opening a port and losing it are different errors (issue 10, defect 12): a read or write
failure on an open port is `PortLost` ("lost SPEC during …: [Errno 5] Input/output error"),
never "cannot open SPEC: write failed: write failed: …". Real ptys whose other end closes."""

from __future__ import annotations

import os
import tty

import pytest

from harness.device.errors import PortError, PortLost, PortOpenError
from harness.device.transport import open_device

EIO = "[Errno 5] Input/output error"


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    fds = [master, slave]
    yield fds, path
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _close_other_end(fds: list[int]) -> None:
    """The module goes away: the pty's master side (and our spare slave fd) close."""
    for fd in fds:
        os.close(fd)
    fds.clear()


def test_a_write_on_a_lost_pty_is_port_lost(pty_pair) -> None:
    fds, path = pty_pair
    with open_device(path) as tap:
        tap.write(b"AT\r")  # the port works
        _close_other_end(fds)
        with pytest.raises(PortLost) as info:
            tap.write(b"ATVR\r")
    assert str(info.value) == f"lost {path} during a write: {EIO}"
    assert isinstance(info.value, PortError) and not isinstance(info.value, PortOpenError)


def test_a_read_on_a_lost_pty_is_port_lost(pty_pair) -> None:
    fds, path = pty_pair
    with open_device(path) as tap:
        _close_other_end(fds)
        with pytest.raises(PortLost) as info:
            tap.read_until(b"\r", 2.0, what="VR reply")
    text = str(info.value)
    assert text.startswith(f"lost {path} during a read: ")
    assert "cannot open" not in text and "failed: " not in text


def test_the_harness_names_what_the_port_was_in_use_for(pty_pair) -> None:
    fds, path = pty_pair
    with open_device(path) as tap:
        tap.during = "test_https_get[api-root-ca]"
        _close_other_end(fds)
        with pytest.raises(PortLost) as info:
            tap.write(b"+++")
    assert str(info.value) == f"lost {path} during test_https_get[api-root-ca]: {EIO}"
    assert info.value.during_test("test_x") == f"lost {path} during test_x: {EIO}"


def test_opening_is_still_cannot_open(tmp_path) -> None:
    with pytest.raises(PortOpenError, match=r"^cannot open .*/nope: no such port"):
        open_device(str(tmp_path / "nope"))


@pytest.mark.parametrize("spec", ["rfc2217://", "rfc2217://localhost", "socket://localhost:x"])
def test_a_url_without_a_port_is_one_line_not_a_type_error(spec: str) -> None:
    with pytest.raises(PortOpenError) as info:
        open_device(spec)
    assert str(info.value) == f"cannot open {spec}: give HOST:PORT (a port 1-65535)"


def test_a_lost_port_stops_the_run_naming_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from harness.device.errors import PortLost

        def test_a(xbee_mode):
            raise PortLost("/dev/ttyUSB0", "[Errno 5] Input/output error", "a write")

        def test_b(xbee_mode):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:allure_pytest", "-p", "no:cacheprovider",
                                "--mode", "api", "-rs")  # fmt: skip
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*module broken: lost /dev/ttyUSB0 during test_a*: [[]Errno 5[]] Input/output error*"]
    )
