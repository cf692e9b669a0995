"""Extended-socket IDs are reused: answers left over from a closed socket must not be taken
for the next socket with the same ID (found by the suites: a late 0xCF "transport closed"
was read as the new socket's connect status)."""

from __future__ import annotations

from harness.device.configure import Configurator
from harness.device.http import Http
from harness.device.module import Module
from harness.device.transport import open_device
from harness.pytest_plugin.simrig import start_rig


def test_two_socket_gets_in_a_row_both_answer(tmp_path):
    with start_rig("ltem-11415", tmp_path) as rig:
        tap = open_device(rig.path, 9600)
        module = Module(tap, guard_time=rig.guard_time, **rig.command_timing)
        try:
            conf = Configurator(module)
            conf.wait_registered(10)
            conf.apply({}, "api")
            http = Http(module)
            first = http.get(rig.urls["http"], via="socket")
            second = http.get(rig.urls["http"], via="socket")
        finally:
            module.close()
            tap.close()
    assert first.status == 200, first.summary()
    assert second.status == 200, second.summary()
    assert second.code("socket_status").value == 0x00, second.summary()
