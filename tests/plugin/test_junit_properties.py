"""`--junitxml` carries, per test case, what a CI system needs to sort bench results without
Allure (issue 14 #4): the device, firmware, mode, TLS variant and the module's codes, as
`xbee_*` properties, once each. Read from the XML of a real run against the simulator."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.profiles import BUILTIN_PROFILE_DIR

ROOT = Path(__file__).resolve().parents[2]

BODY = r"""
def test_https(xbee, https_target, tls_variant, record_property):
    record_property("mine", "kept")
    xbee.get(https_target)

def test_plain():
    pass
"""


def test_junit_xml_has_xbee_properties_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_junit=BODY)
    got = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:allure_pytest",
        "--profile", str(BUILTIN_PROFILE_DIR / "sim.yaml"),
        "--mode", "api", "--mode", "transparent", "--tls-variant", "leaf-as-ca",
        "--junitxml", "junit.xml", timeout=240,
    )  # fmt: skip
    got.assert_outcomes(passed=3)
    cases = {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")]
        for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    }
    api = cases["test_https[api-leaf-as-ca]"]
    assert len(api) == len(set(api)), api  # once each, not once per phase
    assert dict(api) == {
        "mine": "kept",
        "xbee_device": "sim",
        "xbee_personality": "cat1-3100C",
        "xbee_firmware": "3100C",
        "xbee_hardware": "4941",
        "xbee_profile": "sim",
        "xbee_mode": "api",
        "xbee_tls_variant": "leaf-as-ca",
        "xbee_tx_status": "0x8B",  # D-89 TLS authentication error, on the simulator's 3100C
    }
    transparent = dict(cases["test_https[transparent-leaf-as-ca]"])
    assert transparent["xbee_mode"] == "transparent" and transparent["xbee_ci"] == "0x26"
    assert cases["test_plain"] == []  # a test that uses no module gets none
