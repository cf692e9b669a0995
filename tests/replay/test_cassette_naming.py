"""Cassette file names: safe on any OS, one per test id, stable; the recording stamp."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture import CaptureError, CaptureWriter
from harness.replay.cassette import (
    MAX_STEM,
    Recording,
    cassette_name,
    cassette_path,
    profile_digest,
    read_info,
    stamp,
)

WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
            *(f"LPT{i}" for i in range(10))}  # fmt: skip


def assert_portable(name: str) -> None:
    assert name.endswith(".jsonl")
    assert not WINDOWS_FORBIDDEN.search(name), name
    assert name.split(".")[0].upper() not in RESERVED, name
    assert len(name.encode()) <= MAX_STEM + len(".jsonl") + 11
    assert not name.endswith((" ", "."))


def test_a_plain_node_id_reads_as_itself() -> None:
    name = cassette_name("suites/test_https.py::test_https_get[transparent-root-ca]")
    assert name == "suites.test_https__test_https_get[transparent-root-ca].jsonl"


def test_parametrized_ids_never_share_a_file() -> None:
    base = "suites/test_https.py::test_https_get"
    ids = [f"{base}[transparent-root-ca]", f"{base}[api-root-ca]", f"{base}[api-root-CA]",
           f"{base}[api/root-ca]", f"{base}[api:root-ca]", f"{base}[api_root-ca]", base,
           f"{base}[api-root-ca] ", "suites/sub/test_https.py::test_https_get[api-root-ca]",
           "suites/test_https/test_https_get.py::t", "suites/test_https.py::test_https_get::t",
           "suites/test_https.py::test__https_get"]  # fmt: skip
    names = [cassette_name(i) for i in ids]
    assert len({n.lower() for n in names}) == len(ids)  # apart even on case-insensitive disks
    for name in names:
        assert_portable(name)


def test_lossy_names_carry_a_hash_of_the_exact_id() -> None:
    name = cassette_name("suites/test_x.py::test_y[a:b]")
    assert re.fullmatch(r"suites\.test_x__test_y\[a_b\]-[0-9a-f]{10}\.jsonl", name)
    assert cassette_name("suites/test_x.py::test_y[a:b]") == name  # stable across runs


@pytest.mark.parametrize("nodeid", ["con.py::test_a", "aux::x", "tests/nul.py::t[1]",
                                    "LPT1.py::test"])  # fmt: skip
def test_windows_reserved_names_are_avoided(nodeid: str) -> None:
    assert_portable(cassette_name(nodeid))


def test_long_ids_are_cut_and_kept_apart() -> None:
    long = "suites/test_https.py::test_" + "x" * 300
    a, b = cassette_name(long + "[a]"), cassette_name(long + "[b]")
    assert a != b
    assert_portable(a)
    assert len(a) <= MAX_STEM + len(".jsonl")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=2, unique=True))
def test_any_two_ids_get_portable_distinct_names(ids: list[str]) -> None:
    nodeids = [f"suites/test_a.py::test_b[{i}]" for i in ids]
    names = [cassette_name(n) for n in nodeids]
    for name in names:
        assert_portable(name)
    assert names[0].lower() != names[1].lower()


def test_empty_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty node id"):
        cassette_name("  ")


def test_cassette_path_is_in_the_directory(tmp_path: Path) -> None:
    p = cassette_path(tmp_path, "suites/test_a.py::test_b")
    assert p.parent == tmp_path and p.name == "suites.test_a__test_b.jsonl"


def test_stamp_records_what_the_cassette_was_made_with(tmp_path: Path) -> None:
    profile = tmp_path / "bench.yaml"
    profile.write_text("device: {}\n")
    path = cassette_path(tmp_path, "suites/test_a.py::test_b")
    with CaptureWriter(path, test="suites/test_a.py::test_b", device="sim") as w:
        stamp(w, Recording("simulator", personality="cat1-3100C", profile="bench",
                           profile_sha256=profile_digest(profile)))  # fmt: skip
        w.wire("tx", b"ATVR\r")
        stamp(w, Recording("simulator", firmware={"VR": "3100C", "HV": "4941"},
                           personality="cat1-3100C", profile="bench",
                           profile_sha256=profile_digest(profile)))  # fmt: skip
    info = read_info(path)
    assert info.test == "suites/test_a.py::test_b"
    assert info.recording is not None and info.recording.source == "simulator"
    assert info.firmware == {"VR": "3100C", "HV": "4941"}  # the latest stamp wins
    assert info.recording.profile_sha256 == profile_digest(b"device: {}\n")
    assert "VR=3100C" in info.describe()


def test_source_is_simulator_or_hardware() -> None:
    with pytest.raises(ValueError, match="source"):
        Recording("emulator")  # type: ignore[arg-type]


def test_unstamped_and_broken_cassettes(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    with CaptureWriter(path, test="t", device="d", firmware={"VR": "11415"}):
        pass
    info = read_info(path)
    assert info.recording is None and info.firmware == {"VR": "11415"}
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(CaptureError, match=rf"{path}:2: corrupt line"):
        read_info(path)
