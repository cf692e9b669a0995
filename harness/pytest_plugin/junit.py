"""Per-test properties in pytest's JUnit XML (`--junitxml`), for CI systems that read no
Allure: the device, firmware, mode, TLS variant and the codes the module gave.

Why the teardown report: pytest's junitxml writes a test case's `<properties>` from the
user_properties of the test's last report only (`LogXML.finalize`, at teardown), and by
then the codes and the firmware (read when the port opened) are known. The names carry the
`xbee_` prefix so they never meet another plugin's or a test's own `record_property`.
"""

from __future__ import annotations

import pytest

from harness.pytest_plugin.matrix import ItemState, uses_harness
from harness.pytest_plugin.session import HilSession
from harness.report.codes import hex_code

PREFIX = "xbee_"


def properties(session: HilSession, state: ItemState) -> list[tuple[str, str]]:
    """`xbee_device`, `xbee_personality`, `xbee_firmware` / `xbee_hardware` (VR / HV),
    `xbee_profile`, `xbee_mode`, `xbee_tls_variant`, and `xbee_<code>` (`xbee_ci` = `0x26`,
    `xbee_tx_status`, …) for each code the test recorded; unknown ones are left out."""
    firmware = session.firmware.get(state.device.label, {})
    values: dict[str, object] = {
        "device": state.device.label,
        "personality": session.personality(state.device),
        "firmware": firmware.get("VR"),
        "hardware": firmware.get("HV"),
        "profile": session.profile.label,
        "mode": state.mode,
        "tls_variant": state.variant,
    }
    values.update({kind: hex_code(value) for kind, value in state.codes.items()})
    return [(PREFIX + name, _text(v)) for name, v in values.items() if v not in (None, "")]


def add_properties(
    rep: pytest.TestReport, item: pytest.Item, session: HilSession, state: ItemState
) -> None:
    """On the teardown report (the one junitxml reads), once; only for a test that uses the
    harness (an xbee fixture or axis)."""
    if rep.when == "teardown" and uses_harness(item):
        rep.user_properties.extend(properties(session, state))


def _text(value: object) -> str:
    return f"{value:X}" if isinstance(value, int) else str(value)
