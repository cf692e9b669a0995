"""harness.verdict: a must-fail variant passes only for its own reason, with a control."""

from __future__ import annotations

import pytest

from harness.verdict import Control, Verdict, closed_after_response, judge
from harness.xbee import firmware
from harness.xbee.codes import Reason

CAT1 = firmware.CAT1_3100
LTEM = firmware.LTEM_114
UP = Control("root-ca", 200, "ci", 0x27)
DOWN_DNS = Control("root-ca", None, "ci", 0x25)


def test_dns_failure_never_satisfies_a_tls_variant():
    """Observation 1: wrong-ca 'passed' with CI 0x25 on a module without a personality."""
    for family in (None, CAT1, LTEM):
        j = judge("tls_auth", family, "ci", 0x25, None, UP)
        assert j.verdict is Verdict.FAIL, (family, j)
        assert "DNS" in j.reason and j.cell.startswith("✗ DNS · CI 0x25")


@pytest.mark.parametrize("code", [0x24, 0x22, 0x10])
def test_route_and_registration_codes_fail_a_tls_variant(code):
    assert judge("tls_auth", None, "ci", code, None, UP).verdict is Verdict.FAIL
    assert judge("tls_auth", CAT1, "ci", code, None, UP).verdict is Verdict.FAIL


def test_failed_control_makes_must_fail_cells_inconclusive():
    j = judge("tls_auth", None, "ci", 0x25, None, DOWN_DNS)
    assert j.verdict is Verdict.INCONCLUSIVE
    assert j.cell == "? inconclusive · control CI 0x25"
    assert "control root-ca failed (CI 0x25)" in j.reason
    # the HTTPS server stopped on the simulator: 0x26 for both, the control refused too
    refused = Control("root-ca", None, "ci", 0x26)
    assert judge("tls_auth", CAT1, "ci", 0x26, None, refused).verdict is Verdict.INCONCLUSIVE


def test_ambiguous_code_leans_on_the_control():
    j = judge("tls_auth", CAT1, "ci", 0x26, None, UP)
    assert j.passed
    assert j.reason == "CI 0x26: TLS authentication or refused; control root-ca reached the server"
    assert j.cell == "✓ TLS authentication or refused · CI 0x26"
    assert judge("refused", CAT1, "ci", 0x26, None, UP).cell == "✓ refused · CI 0x26"
    assert CAT1.ambiguous("ci", 0x26) and not LTEM.ambiguous("ci", 0x26)


def test_unambiguous_tls_code_passes():
    j = judge("tls_auth", LTEM, "tx_status", 0x8B, None, UP)
    assert j.cell == "✓ TLS authentication · TX 0x8B"
    assert judge("tls_auth", CAT1, "tx_status", 0x8B, None, UP).passed
    # the right family but another reason on a known firmware: not this variant's reason
    assert judge("tls_auth", CAT1, "tx_status", 0x86, None, UP).verdict is Verdict.FAIL


def test_unknown_firmware_falls_back_to_reason_families():
    assert judge("tls_auth", None, "tx_status", 0x8B, None, UP).passed
    assert judge("tls_config", None, "tx_status", 0x8B, None, UP).passed  # any TLS family
    j = judge("tls_auth", None, "ci", 0x26, None, UP)
    assert j.passed and "refused" in j.reason and "control" in j.reason
    assert judge("tls_auth", None, "ci", 0x28, None, UP).verdict is Verdict.FAIL


def test_no_control_is_inconclusive_not_passed():
    assert judge("tls_auth", LTEM, "ci", 0x2F, None, None).verdict is Verdict.INCONCLUSIVE


def test_answer_where_failure_expected():
    j = judge("tls_auth", CAT1, "ci", 0x00, 200, UP)
    assert j.verdict is Verdict.FAIL and j.cell == "✗ 200 (expected TLS failure)"


def test_success_variant_cells():
    assert judge("ok", CAT1, "ci", 0x27, 200).cell == "✓ 200 · CI 0x27"
    j = judge("ok", CAT1, "ci", 0x25, None)
    assert j.verdict is Verdict.FAIL and j.cell == "✗ DNS · CI 0x25 (expected 200)"


def test_closed_by_peer_after_a_response_is_not_a_failure():
    """Observation 2: CI 0x27 after a good GET, on hardware (no personality)."""
    for family in (None, CAT1, LTEM):
        assert closed_after_response(family, "ci", 0x27)
        assert closed_after_response(family, "ci", 0x00)
        assert not closed_after_response(family, "ci", 0x25)


def test_identify_from_vr_and_hv():
    assert firmware.identify("3100C", "4941") is CAT1
    assert firmware.identify(0x11415, 0x4B44) is LTEM
    assert firmware.identify("1140B") is LTEM  # §7.1 F-FW
    assert firmware.identify("3100C", "4B44") is None  # HV contradicts VR
    assert firmware.identify("41519") is None and firmware.identify(None) is None
    assert CAT1.reasons("ci", 0x25) == {Reason.DNS}
    assert "extended_sockets" in LTEM.features and "extended_sockets" not in CAT1.features
