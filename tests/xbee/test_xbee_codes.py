"""harness.xbee.codes against the reference's tables and digi-xbee's enums."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from digi.xbee.models.status import (
    CellularAssociationIndicationStatus,
    FSCommandStatus,
    SocketState,
    TransmitStatus,
)
from digi.xbee.models.status import ModemStatus as DigiModemStatus

from harness.xbee import codes

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "xbee3-protocol.md"


def reference_rows(heading: str, *, until: str | None = None) -> dict[int, str]:
    """`| 0xNN | meaning |` rows under a heading of the reference (up to `until`)."""
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not present")
    text = REFERENCE.read_text()
    start = text.index(heading)
    end = text.index(until, start) if until else text.index("\n## ", start + 1)
    rows: dict[int, str] = {}
    for m in re.finditer(
        r"^\| \**0x([0-9A-F]{2})\** \| \**([^|*]+?)\**\s*\|", text[start:end], re.M
    ):
        rows[int(m.group(1), 16)] = m.group(2).strip()
    return rows


def _same(ours: str, theirs: str) -> bool:
    return theirs.rstrip(".").lower().startswith(ours.lower())


@pytest.mark.parametrize(
    ("table", "heading", "until"),
    [
        (codes.TX_STATUS, "### 2.8 0x89", "Forum evidence"),
        (codes.MODEM_STATUS, "### 2.5 0x8A", "### 2.6"),
        (codes.AI, "### 3.3 AI", "### 3.4"),
        (codes.CI_UDP, "IP = 0 (UDP):", "IP = 1 or 4"),
        (codes.CI_TCP, "IP = 1 or 4 (TCP / TLS):", "IP = 2 (SMS)"),
    ],
    ids=["TX", "MODEM", "AI", "CI-UDP", "CI"],
)
def test_tables_hold_every_reference_row_with_its_meaning(table, heading, until):
    rows = reference_rows(heading, until=until)
    assert rows, f"no rows parsed under {heading!r}"
    missing = set(rows) - set(table)
    # Modem status rows 0x35-0x3A share table rows in the reference ("0x35 / 0x36 / 0x37").
    assert not missing
    wrong = {
        f"0x{v:02X}": (table[v].meaning, m)
        for v, m in rows.items()
        if not _same(table[v].meaning, m)
    }
    assert not wrong


def test_forum_ci_0x26_is_connection_refused_for_tcp_and_tls_only():
    # F-HTTPS: the module read CI 0x26 after the failed TLS setup; the TCP/TLS table says why.
    assert codes.describe("CI", 0x26) == "0x26 Connection refused"
    assert codes.lookup(codes.ci_table(4), 0x26).name == "CONNECTION_REFUSED"
    assert not codes.lookup(codes.ci_table(0), 0x26).known  # no 0x26 in the UDP table
    assert codes.lookup(codes.ci_table(2), 0x02).meaning.startswith("Invalid SMS parameters")


@pytest.mark.parametrize("table", sorted(codes.TABLES))
def test_unknown_values_keep_their_raw_value(table):
    value = next(v for v in range(256) if v not in codes.TABLES[table])
    code = codes.lookup(table, value)
    assert code.value == value and not code.known
    assert codes.describe(table, value) == f"unknown (0x{value:02X})"


@pytest.mark.parametrize(
    ("table", "enum", "getter"),
    [
        ("TX", TransmitStatus, lambda e: e.code),
        ("MODEM", DigiModemStatus, lambda e: e.code),
        ("AI", CellularAssociationIndicationStatus, lambda e: e.code),
        ("SOCKET", SocketState, lambda e: e.code),
        ("FS", FSCommandStatus, lambda e: e.code),
    ],
)
def test_names_agree_with_digi_xbee_where_it_has_the_code(table, enum, getter):
    # Names follow digi-xbee so a harness log and a digi-xbee exception say the same word.
    digi = {getter(e): e.name for e in enum}
    ours = codes.TABLES[table]
    mismatched = {
        f"0x{v:02X}": (c.name, digi[v]) for v, c in ours.items() if v in digi and digi[v] != c.name
    }
    assert not mismatched


def test_every_row_cites_a_source_tag_of_the_reference():
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not present")
    tags = set(re.findall(r"^\| ([A-Z][A-Z0-9-]+) \|", REFERENCE.read_text(), re.M))
    sources = {c.source for table in codes.TABLES.values() for c in table.values()}
    assert sources <= tags, sources - tags


def test_table_names_are_case_insensitive_and_bad_ones_say_which_exist():
    assert codes.lookup("tx", 0x86).name == "INVALID_TLS_CONFIGURATION"
    with pytest.raises(KeyError, match="tables: TX, CI"):
        codes.lookup("NOPE", 0)


def test_duplicate_rows_are_refused():
    with pytest.raises(ValueError, match="duplicate code 0x01"):
        codes._table([(1, "A", "a", "D-CI"), (1, "B", "b", "D-CI")])


def test_frames_report_status_names_from_these_tables():
    from harness.xbee import api

    assert api.SocketStatus(0, 0x02).to_dict()["status_name"] == "CONNECTION_REFUSED"
    assert api.SocketCreateResponse(1, 0xFF, 0x86).to_dict()["status_name"] == "INVALID_TLS_CFG"
    assert api.FileSystemResponse(1, 1, 0x52).to_dict()["status_name"] == "DOES_NOT_EXIST"
