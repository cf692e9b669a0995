"""CI 0xFF ("No known status", D-CI) in the firmware tables and the verdict.

The forum's reply 1 (F-HTTPS) saw CI stay 0xFF after a transparent-mode TLS failure: the
module wrote no code. A verdict must never take 0xFF as the variant's failure unless the
firmware family says its firmware leaves CI at 0xFF for that reason (A-CI-TLS-FF), and then
only leaning on the control, like the ambiguous 0x26 of 3100C.
"""

from __future__ import annotations

import pytest

from harness.verdict import Control, Verdict, judge
from harness.xbee import firmware as fw
from harness.xbee.codes import TLS_REASONS, Reason

GOOD = Control("root-ca", 200, "ci", 0x00)
BAD = Control("root-ca", None, "ci", 0x25)


def test_ltem_family_says_tls_failures_may_leave_ci_unwritten():
    reasons = fw.LTEM_114.reasons("ci", 0xFF)
    assert reasons >= TLS_REASONS and Reason.NO_STATUS in reasons
    assert fw.LTEM_114.ambiguous("ci", 0xFF)
    assert all("F-HTTPS" in src for src in fw.LTEM_114.ci_unwritten.values())


def test_cat1_and_unknown_read_0xff_as_no_known_status():
    assert fw.CAT1_3100.reasons("ci", 0xFF) == frozenset({Reason.NO_STATUS})


@pytest.mark.parametrize("family", [fw.CAT1_3100, None], ids=["cat1", "unknown-fw"])
@pytest.mark.parametrize("expect", ["tls_auth", "tls_config", "tls_handshake"])
def test_0xff_never_passes_where_the_table_does_not_say_so(family, expect):
    j = judge(expect, family, "ci", 0xFF, None, GOOD)
    assert j.verdict is Verdict.FAIL, j
    assert "no known status" in j.reason


def test_0xff_on_ltem_leans_on_the_control():
    j = judge("tls_auth", fw.LTEM_114, "ci", 0xFF, None, GOOD)
    assert j.verdict is Verdict.PASS, j
    assert "no known status" in j.cell and "control root-ca reached" in j.reason
    assert judge("tls_auth", fw.LTEM_114, "ci", 0xFF, None, None).verdict is Verdict.INCONCLUSIVE
    assert judge("tls_auth", fw.LTEM_114, "ci", 0xFF, None, BAD).verdict is Verdict.INCONCLUSIVE


def test_0xff_is_no_reason_for_a_non_tls_failure():
    assert judge("refused", fw.LTEM_114, "ci", 0xFF, None, GOOD).verdict is Verdict.FAIL
    assert judge("dns_failed", None, "ci", 0xFF, None, GOOD).verdict is Verdict.FAIL


def test_expected_success_with_0xff_says_no_known_status():
    j = judge("ok", fw.CAT1_3100, "ci", 0xFF, None)
    assert j.verdict is Verdict.FAIL and "no known status" in j.reason
