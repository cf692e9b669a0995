"""The AT catalogue and command-mode line syntax (harness.xbee.at)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.xbee import at

# ----- line syntax (D-CMD) ------------------------------------------------------------------


def test_parse_single_query_and_set():
    assert at.parse_line("ATAP\r") == [at.AtCommand("AP")]
    assert at.parse_line(b"ATAP1\r") == [at.AtCommand("AP", "1")]
    assert at.parse_line("ATAP") == [at.AtCommand("AP")]  # CR optional
    assert at.parse_line("AT\r") == []
    assert at.parse_line("ATAP\r")[0].is_query


def test_parse_chain_from_the_guide():
    assert at.parse_line("ATNIMy XBee,AC\r") == [at.AtCommand("NI", "My XBee"),
                                                   at.AtCommand("AC")]


def test_parse_is_case_insensitive_for_names_not_values():
    assert at.parse_line("atniAbC,wr\r") == [at.AtCommand("NI", "AbC"), at.AtCommand("WR")]


def test_parse_special_names_and_fs_rest_of_line():
    assert at.parse_line("AT$0wgc.crt;;\r") == [at.AtCommand("$0", "wgc.crt;;")]
    assert at.parse_line("ATS#\r") == [at.AtCommand("S#")]
    assert at.parse_line("ATFS PUT a,b\r") == [at.AtCommand("FS", "PUT a,b")]


def test_space_before_parameter_is_dropped():  # A-AT-SPACE
    assert at.parse_line("ATDL google.com,DE 50\r") == [at.AtCommand("DL", "google.com"),
                                                         at.AtCommand("DE", "50")]


@pytest.mark.parametrize("line, needle", [
    ("XYZ\r", "does not start with AT"),
    ("ATA\r", "shorter than 2"),
    ("ATAP1,\r", "nothing after the last ','"),
    (b"AT\xffP\r", "not ASCII"),
])
def test_parse_errors_name_the_line(line, needle):
    with pytest.raises(at.AtError, match=needle):
        at.parse_line(line)


def test_format_command_and_chain():
    assert at.format_command("AP") == b"ATAP\r"
    assert at.format_command("DE", 0x1BB) == b"ATDE1BB\r"
    assert at.format_command("DL", "google.com") == b"ATDLgoogle.com\r"
    assert at.format_chain([("AP", 1), ("WR", None), ("CN", None)]) == b"ATAP1,WR,CN\r"
    with pytest.raises(at.AtError, match="','"):
        at.format_command("NI", "a,b")
    with pytest.raises(at.AtError, match="2 characters"):
        at.format_command("APX")


@settings(deadline=None)  # no per-example time limit: CI hosts are loaded
@given(st.lists(st.tuples(st.sampled_from(sorted(at.CATALOGUE)),
                          st.one_of(st.none(), st.integers(0, 0xFFFF),
                                    st.text("abcXYZ09.-_ ;/", min_size=1, max_size=12)
                                    .map(str.strip).filter(bool))),
                min_size=1, max_size=4))
def test_format_then_parse_round_trips(commands):
    commands = [(n, v) for n, v in commands if n not in at.UNCHAINED]
    if not commands:
        return
    parsed = at.parse_line(at.format_chain(commands))
    assert [c.name for c in parsed] == [n for n, _ in commands]
    for cmd, (_, value) in zip(parsed, commands, strict=True):
        expect = None if value is None else (f"{value:X}" if isinstance(value, int) else value)
        assert cmd.param == expect


# ----- values -------------------------------------------------------------------------------


def test_hex_text_forms():
    assert at.parse_hex("1BB") == at.parse_hex("0x1bb") == 443  # D-CMD
    assert at.to_text("GT", 1000) == "3E8"
    assert at.to_text("AP", 0) == "0"
    with pytest.raises(at.AtError, match="ATDE"):
        at.from_text("DE", "12G")


def test_binary_forms():
    assert at.to_binary("DE", 0x1BB) == b"\x01\xbb"  # §2.2 set DE vector
    assert at.to_binary("AP", 1) == b"\x01"
    assert at.to_binary("AP", 0) == b"\x00"
    assert at.to_binary("C0", 0x16) == b"\x00\x16"  # fixed width
    assert at.to_binary("MY", "10.1.2.3") == b"\x0a\x01\x02\x03"  # 4 bytes in API
    assert at.to_binary("DL", "example.com") == b"example.com"  # ASCII (L-PY)
    assert at.from_binary("DE", b"\x00\x00\x01\xbb") == 0x1BB  # zero-padded (D-EX-WIFI)
    assert at.from_binary("MY", b"\x0a\x01\x02\x03") == "10.1.2.3"
    with pytest.raises(at.AtError, match="1-8"):
        at.from_binary("DE", b"")


def test_dual_forms_of_addresses():
    assert at.encode_value("OD", "1.2.3.4", api=False) == b"1.2.3.4"  # dotted (D-OD)
    assert at.encode_value("OD", "1.2.3.4", api=True) == b"\x01\x02\x03\x04"


@settings(deadline=None)  # no per-example time limit: CI hosts are loaded
@given(st.sampled_from([r for r in at.CATALOGUE.values() if r.kind is at.Kind.HEX]),
       st.data(), st.booleans())
def test_numbers_round_trip_both_forms(row, data, api):
    lo, hi = data.draw(st.sampled_from(row.ranges or ((0, 0xFFFFFFFF),)))
    if row.width:
        hi = min(hi, (1 << (8 * row.width)) - 1)
    value = data.draw(st.integers(lo, hi))
    assert at.decode_value(row.name, at.encode_value(row.name, value, api=api), api=api) == value


@pytest.mark.parametrize("name, value, needle", [
    ("AP", 3, "out of range"),
    ("BD", 0xB, "out of range"),
    ("GT", 1, "out of range"),
    ("NI", "x" * 21, "at most 20"),
    ("$0", "a;b;c;d", "three"),
    ("MY", "1.2.3", "dotted"),
    ("AP", "1", "expected a number"),
])
def test_validate_names_command_and_problem(name, value, needle):
    with pytest.raises(at.AtError, match=needle) as exc:
        at.validate(name, value)
    assert f"AT{name}" in str(exc.value)


def test_unknown_command():
    with pytest.raises(at.AtError, match="unknown AT command 'ZZ'"):
        at.spec("ZZ")


def test_catalogue_rows_are_sourced_and_defaults_valid():
    for row in at.CATALOGUE.values():
        assert row.source, row.name
        if row.default is not None and row.kind is not at.Kind.COMMAND:
            assert at.validate(row.name, row.default) == row.default
    assert at.spec("ap").default == 0  # D-AP
    assert at.spec("GT").default == 0x3E8  # D-GT
    assert at.spec("CT").default == 0x64  # D-ENTER
    assert at.spec("$0").default == ";;"  # D-TLS


def test_secrets_are_redacted():
    assert at.redact("IM", "353907104826176") == "*************76"
    assert at.redact("CW", "hunter2") == "*****r2"
    assert at.redact("NI", "bench") == "bench"
    assert all(at.spec(n).secret for n in ("IM", "S#", "II", "CW", "CU"))
