"""Personality files: every shipped one loads and is sourced; bad files say file:line: key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sim.core import personality
from harness.sim.core.effects import Failure

SHIPPED = personality.available()


def test_both_firmwares_ship():
    assert {"cat1-3100C", "ltem-11415"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_personality_is_complete(name):
    p = personality.load(name)
    assert set(p.codes) == set(Failure)  # every reason maps to codes
    for reason in Failure:
        for kind in personality.CODE_KINDS:
            assert 0 <= p.code(reason, kind) <= 0xFF
    for key in ("VR", "HV", "IM", "SH", "SL", "S#"):
        assert key in p.identity
    assert p.identity["IM"].isdigit() and len(p.identity["IM"]) == 15
    assert p.quirk("transparent_tls_requires_client_cert") is False  # off by default


def test_forum_module_facts():
    p = personality.load("cat1-3100C")
    assert p.identity["VR"] == 0x3100C  # F-HTTPS
    assert p.identity["HV"] >> 8 == 0x49  # L-PY hw.py
    assert p.code(Failure.TLS_AUTH, "ci") == 0x26  # F-HTTPS, as an assumption
    assert p.codes[Failure.TLS_AUTH].assumption
    assert p.family.name == "cat1-3100"
    assert not p.has_feature("extended_sockets")  # L-C: x15 or later
    assert not p.allows("BD", 0xA)  # D-BD: *13 and earlier stop at 230400


def test_ltem_facts():
    p = personality.load("ltem-11415")
    assert p.identity["VR"] == 0x11415
    assert p.code(Failure.TLS_AUTH, "ci") == 0x2F  # D-CI
    assert p.code(Failure.TLS_AUTH, "tx_status") == 0x8B  # D-89
    assert p.has_feature("extended_sockets") and p.has_feature("fs_frames")
    assert p.sockets.max_tls == 4  # D-SOCKNUM p.95


def _shipped_text() -> str:
    return personality.load("cat1-3100C").path.read_text()


def _error(text: str) -> str:
    with pytest.raises(personality.PersonalityError) as exc:
        personality.loads(text, "bad.yaml")
    return str(exc.value)


def test_bad_value_names_file_line_and_key():
    text = _shipped_text().replace("VR: {value: 0x3100C", "VR: {value: -1")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "VR: {value: -1" in s)
    msg = _error(text)
    assert msg.startswith(f"bad.yaml:{line}: identity")
    assert "VR" in msg


def test_row_without_source_or_evidence_is_refused():
    text = _shipped_text().replace(
        'MN: {value: "AT&T", source: "L-TG getOperatorImpl (operator name string)"}',
        'MN: {value: "AT&T"}')
    assert "network.MN" in _error(text)
    text = _shipped_text().replace('assumption: true, evidence: "fake serial number"',
                                   "assumption: true")
    assert "evidence" in _error(text)


def test_unknown_family_and_failure_override():
    text = _shipped_text().replace("family: cat1-3100", "family: cat1-9999")
    assert "unknown firmware family 'cat1-9999'" in _error(text)
    row = '{ci: 1, tx_status: 1, socket_status: 1, source: "x"}'
    bad = _shipped_text() + f"\ncodes:\n  tls_authz: {row}\n"
    assert "unknown failure reason(s) ['tls_authz']" in _error(bad)


def test_codes_and_features_come_from_the_family_table():
    """Written once: the personality's codes and features are its family's."""
    from harness.xbee import firmware

    for name in SHIPPED:
        p = personality.load(name)
        assert "codes:" not in p.path.read_text() and "features:" not in p.path.read_text()
        assert firmware.identify(p.identity["VR"], p.identity["HV"]) is p.family
        assert set(p.features) == set(p.family.features)
        for reason in Failure:
            for kind in personality.CODE_KINDS:
                assert p.code(reason, kind) == p.family.code(reason.value, kind)


def test_unknown_key_and_bad_yaml():
    assert "Extra inputs" in _error(_shipped_text() + "\nfirmware: 1\n")
    assert _error("name: [unclosed\n").startswith("bad.yaml:")


def test_unknown_name_lists_what_exists(tmp_path: Path):
    with pytest.raises(personality.PersonalityError, match=r"available: .*cat1-3100C"):
        personality.load("no-such-firmware")
    f = tmp_path / "mine.yaml"
    f.write_text(_shipped_text().replace("name: cat1-3100C", "name: mine"))
    assert personality.load(f).name == "mine"
