"""Bench cassettes of `client-cert` replay (A-REPLAY-STANDIN-KEY).

A deck is recorded through the hardware code path (the bench rig: the simulator over RFC 2217
with a hardware-style profile, tests/plugin/benchrig.py), so, as on a real bench, its private
key is not copied beside the cassettes and each cassette knows the key by SHA-256 only. The
replay of that deck with the bench's profile runs the client-cert cells (they were skipped
with "a file the profile does not name"), the key stays out of every file of the deck, and a
cassette that never saw the key is skipped with the real reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.replay import standin
from harness.replay.script import Step
from tests.plugin.benchrig import start_bench
from tests.replay.cleanrun import record_clean

ROOT = Path(__file__).resolve().parents[2]
SUITE = str(ROOT / "suites" / "test_https.py")
INNER = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-p", "no:hypothesispytest", "-q", "-rA"]  # fmt: skip
VARIANTS = ("root-ca", "client-cert", "mutual-no-client-cert")
CELLS = [f"{mode}-client-cert" for mode in ("transparent", "api", "api-escaped")]


def _pytest(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [*INNER, SUITE, *args, "--reports-dir", str(workdir / "reports")],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _cells(workdir: Path) -> dict[str, str]:
    data = json.loads((workdir / "reports" / "matrix.json").read_text(encoding="utf-8"))
    return {f"{c['mode']}-{c['tls_variant']}": c["outcome"] for c in data["cells"]}


@pytest.fixture(scope="module")
def bench_deck(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """(the deck, the bench's profile, the bench's private key) of one recorded bench run."""
    base = tmp_path_factory.mktemp("bench-deck")
    rigs = []

    def once(attempt: int) -> Path:
        rig = start_bench(base / f"bench{attempt}", tls_variants=VARIANTS,
                          profile_extra={"device": {"first_byte_timeout": 5}})  # fmt: skip
        rigs.append(rig)
        deck = base / f"deck{attempt}"
        try:
            proc = _pytest(base / f"record{attempt}", *rig.args(), "--record", str(deck))
        finally:
            rig.close()
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return deck

    deck = record_clean(once)  # a run whose `+++` missed its guard time is recorded again
    rig = rigs[-1]
    return deck, rig.profile, rig.pki.read("client_key")


def test_the_bench_key_stays_out_of_the_deck(bench_deck: tuple[Path, Path, bytes]) -> None:
    deck, _, key = bench_deck
    assert not list(deck.glob("pki/*/client.key"))  # a bench's key is not copied
    body = [line for line in key.splitlines() if line and not line.startswith(b"-----")]
    for path in deck.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY" not in data, path
            assert not any(line in data for line in body), path
            assert key.hex().encode() not in data, path


def test_client_cert_cells_replay_from_bench_cassettes(
    bench_deck: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    deck, profile, _ = bench_deck
    proc = _pytest(tmp_path, "--device", f"replay:{deck}", "--profile", str(profile))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "a file the profile does not name" not in out
    cells = _cells(tmp_path)
    for cell in CELLS:
        assert cells[cell] == "passed", (cell, cells)
        assert re.search(rf"PASSED \S*test_https\.py::test_https_get\[{cell}\]", out), cell


def test_a_cassette_without_the_keys_hash_is_skipped_with_the_real_reason(
    bench_deck: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    deck, profile, _ = bench_deck
    name = "suites.test_https__test_https_get[api-client-cert].jsonl"
    lines = (deck / name).read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [ln for ln in lines if not ('"ev":"file"' in ln and "client.key" in ln)]
    assert len(kept) < len(lines)  # the cassette knew the key only by these notes
    mine = tmp_path / "deck"
    (mine / "pki").mkdir(parents=True)
    for folder in (deck / "pki").iterdir():
        (mine / "pki" / folder.name).symlink_to(folder)
    (mine / name).write_text("".join(kept), encoding="utf-8")
    proc = _pytest(tmp_path / "run", "--device", f"replay:{mine}", "--profile", str(profile),
                   "-k", "api-client-cert and not escaped")  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "a file the profile does not name" not in out
    assert "needs client_key: " in out and "a bench's private key stays on the bench" in out


def test_the_stand_in_takes_the_recorded_keys_place_in_the_script() -> None:
    recorded = "ab" * 32
    sub = standin.StandIn(recorded)
    steps = [
        Step("expect", "text", b"ATFS HASH /flash/cert/client.key\r", 2, 0.0),
        Step("emit", "text", f"sha256 {recorded}\r".encode(), 3, 0.0),
        Step("expect", "upload", b"", 4, 0.0, size=9, sha256="cd" * 32, what="XPUT",
             file_size=1675, file_sha256=recorded),
        Step("emit", "text", b"sha256 " + b"ef" * 32 + b"\r", 5, 0.0),  # another file's
    ]
    out = standin.apply(steps, [sub])
    assert out[0] == steps[0] and out[3] == steps[3]
    assert out[1].raw == f"sha256 {sub.sha256}\r".encode()
    assert (out[2].file_size, out[2].file_sha256) == (len(standin.STAND_IN_KEY), sub.sha256)
    assert standin.apply(steps, []) == steps
