"""What a replay needs besides the wire: the PKI a recording uploaded from, the stamp's targets
and timing, and which cassette serves which test (a directory, or one file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture import CaptureError, CaptureWriter
from harness.replay.cassette import (
    PKI_NAMES,
    Deck,
    Recording,
    cassette_path,
    load_pki,
    read_info,
    save_pki,
    stamp,
)

CERT = b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"


def _files(tag: bytes) -> dict[str, bytes | None]:
    files: dict[str, bytes | None] = {n: CERT.replace(b"QUJD", tag) for n in PKI_NAMES}
    files["client_key"] = KEY
    files["intermediate_ca"] = None
    return files


def test_the_simulators_pki_is_kept_whole_and_read_back(tmp_path: Path) -> None:
    files = _files(b"AAAA")
    rel = save_pki(tmp_path, files, "simulator")
    assert rel.startswith("pki/") and (tmp_path / rel).is_dir()
    assert load_pki(tmp_path, rel) == files  # the key too: a throwaway test key
    assert save_pki(tmp_path, dict(files), "simulator") == rel  # same files, same folder


def test_a_new_pki_gets_its_own_folder(tmp_path: Path) -> None:
    first = save_pki(tmp_path, _files(b"AAAA"), "simulator")
    second = save_pki(tmp_path, _files(b"BBBB"), "simulator")
    assert first != second
    assert load_pki(tmp_path, first)["root_ca"] == CERT.replace(b"QUJD", b"AAAA")


def test_a_benchs_private_key_is_never_copied(tmp_path: Path) -> None:
    rel = save_pki(tmp_path, _files(b"AAAA"), "hardware")
    kept = load_pki(tmp_path, rel)
    assert kept["client_key"] is None and kept["root_ca"] is not None
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in (tmp_path / rel).iterdir())


def _cassette(directory: Path, nodeid: str, **fields: object) -> Path:
    path = cassette_path(directory, nodeid)
    with CaptureWriter(path, test=nodeid, device="sim") as w:
        stamp(w, Recording("simulator", personality="ltem-11415", **fields))  # type: ignore[arg-type]
    return path


def test_the_stamp_carries_targets_pki_and_command_timeout(tmp_path: Path) -> None:
    urls = {"http": "http://google.com/"}
    path = _cassette(
        tmp_path, "suites/test_http.py::test_http_get[api]", urls=urls, pki="pki/abc",
        command_timeout=0.1,
    )  # fmt: skip
    rec = read_info(path).recording
    assert rec is not None
    assert rec.urls == {"http": "http://google.com/"} and rec.pki == "pki/abc"
    assert rec.command_timeout == 0.1 and rec.personality == "ltem-11415"


def test_a_deck_directory_serves_each_test_its_cassette(tmp_path: Path) -> None:
    a = _cassette(tmp_path, "suites/test_http.py::test_http_get[api]")
    deck = Deck(tmp_path)
    assert deck.for_test("suites/test_http.py::test_http_get[api]") == (a, "")
    path, why = deck.for_test("suites/test_http.py::test_http_get[transparent]")
    assert path is None and "no cassette" in why and "--record" in why
    assert deck.first_info().recording is not None


def test_a_deck_file_serves_only_its_own_test(tmp_path: Path) -> None:
    a = _cassette(tmp_path, "suites/test_http.py::test_http_get[api]")
    deck = Deck(a)
    assert deck.for_test("suites/test_http.py::test_http_get[api]") == (a, "")
    path, why = deck.for_test("suites/test_https.py::test_https_get[api-no-ca]")
    assert path is None and "test_http_get[api]" in why


def test_an_empty_or_broken_deck_says_where(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no cassettes"):
        Deck(tmp_path).first_info()
    bad = tmp_path / "a.jsonl"
    bad.write_text('{"ev":"header","format":"xbee-hil-capture/1"}\n{"ev":"tx"')
    with pytest.raises(CaptureError, match=rf"{bad}:2: truncated"):
        Deck(tmp_path).first_info()
    good = _cassette(tmp_path, "suites/test_http.py::test_http_get[api]")
    assert Deck(tmp_path).first_info().path == good  # a bad cassette is its own test's problem
