"""`xbee-hil capture diff` is quiet when the behaviour is the same (A-DIFFQ-BEHAVIOUR).

Real recordings: the suites run twice on the simulator with `--record` into two folders (each
run makes its own PKI, its own local ports, its own frame cuts), and on a bench rig (the
simulator over RFC 2217, tests/plugin/benchrig.py) twice: with 3100C, and with a personality
that gives another CI code for a TLS authentication failure (0x2F instead of 3100C's 0x26).
The same runs are equivalent (exit 0); the changed one names exactly the CI code (exit 1);
`--bytes` still shows the byte-level differences.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.sim.core import personality as personality_mod
from tests.plugin.benchrig import start_bench
from tests.replay.cleanrun import record_clean

ROOT = Path(__file__).resolve().parents[2]
SUITE = str(ROOT / "suites" / "test_https.py")
INNER = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-p", "no:hypothesispytest", "-q"]  # fmt: skip
SAME = "client-cert and not mutual"  # uploads (PUT and XPUT), hashes, 0xB0 payloads, CI
CHANGED = "transparent-wrong-ca"


def _record(workdir: Path, select: str, *extra: str) -> Path:
    """Run the https suite's cells `select` on the simulator, recording into workdir/cassettes."""
    workdir.mkdir(parents=True, exist_ok=True)
    cassettes = workdir / "cassettes"
    proc = subprocess.run(
        [*INNER, SUITE, "-k", select, "--record", str(cassettes),
         "--reports-dir", str(workdir / "reports"), *extra],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert any(cassettes.glob("*.jsonl")), proc.stdout[-3000:]
    return cassettes


def _ci2f_personality(workdir: Path) -> Path:
    """3100C whose TLS authentication failure reads CI 0x2F (the LTE-M family's code)
    instead of 0x26: one change of behaviour, nothing else."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = personality_mod.load("cat1-3100C").path.read_text(encoding="utf-8")
    text += ('\ncodes:\n  tls_auth: {ci: 0x2F, tx_status: 0x8B, socket_status: 0x08, '
             'source: "test: another CI for the same failure"}\n')  # fmt: skip
    path = workdir / "cat1-3100C-ci2f.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _record_bench(workdir: Path, personality: str) -> Path:
    """The CHANGED cell recorded through a bench rig (tests/plugin/benchrig.py) whose
    simulator runs `personality` (a name or a YAML file)."""
    def once(attempt: int) -> Path:
        rig = start_bench(workdir / f"bench{attempt}", personality=personality,
                          modes=("transparent",), tls_variants=("wrong-ca",),
                          profile_extra={"device": {"first_byte_timeout": 5}})  # fmt: skip
        try:
            return _record(workdir / f"run{attempt}", CHANGED, *rig.args())
        finally:
            rig.close()

    return record_clean(once)


def _record_sim(workdir: Path) -> Path:
    """The SAME and CHANGED cells on `--device sim:cat1-3100C`, recorded without a failed
    escape (tests/replay/cleanrun.py)."""
    return record_clean(lambda attempt: _record(workdir / str(attempt), f"{SAME} or {CHANGED}",
                                                "--device", "sim:cat1-3100C"))  # fmt: skip


@pytest.fixture(scope="module")
def decks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("diffq")
    return {
        "a": _record_sim(base / "a"),
        "b": _record_sim(base / "b"),
        "bench": _record_bench(base / "bench", "cat1-3100C"),
        "ci2f": _record_bench(base / "ci2f", str(_ci2f_personality(base / "personality"))),
    }


def _diff(capsys: pytest.CaptureFixture[str], a: Path, b: Path, *extra: str) -> tuple[int, str]:
    code = main(["capture", "diff", str(a), str(b), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_two_recordings_of_the_same_run_are_equivalent(
    decks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = sorted(p.name for p in decks["a"].glob("*.jsonl"))
    assert len(names) == 4, names  # three client-cert cells and the wrong-ca one
    for name in names:
        code, out = _diff(capsys, decks["a"] / name, decks["b"] / name)
        assert code == 0, f"{name}:\n{out}"
        assert "equivalent" in out and "differ" not in out


def test_bytes_still_shows_the_regenerated_pki_and_the_frame_cuts(
    decks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outs = []
    for path in sorted(decks["a"].glob("*.jsonl")):
        code, out = _diff(capsys, path, decks["b"] / path.name, "--bytes")
        assert code == 1, f"{path.name}:\n{out}"  # every cell hashed a certificate
        outs.append(out)
    both = "\n".join(outs)
    assert "-> ATFS HASH /flash/cert/root.crt" in both  # the new PKI's digests
    assert "<XPUT /flash/cert/client.key redacted: " in both  # the key's hash, still redacted
    assert "<- [0xB0 Receive (RX) Packet: IPv4]" in both  # the local port, the cuts
    code, _ = _diff(capsys, path, decks["b"] / path.name, "--strict")  # the same flag
    assert code == 1


def test_a_changed_ci_code_is_the_only_difference_named(
    decks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"suites.test_https__test_https_get[{CHANGED}].jsonl"
    code, out = _diff(capsys, decks["bench"] / name, decks["ci2f"] / name)
    assert code == 1, out
    body = out.splitlines()[2:]  # after the --- / +++ headers
    assert body[0].startswith("answers differ (A line ") and body[0].endswith("-> ATCI\\r")
    assert body[1].startswith("  - <- 26\\r   (CI 0x26 ")
    assert body[2].startswith("  + <- 2F\\r   (CI 0x2F ")
    assert body[3:] == ["1 exchange(s) differ"], out


def test_python_m_harness_replay_diff_shares_the_comparison(
    decks: dict[str, Path]
) -> None:
    name = f"suites.test_https__test_https_get[{CHANGED}].jsonl"
    same = subprocess.run(
        [sys.executable, "-m", "harness.replay", "diff", str(decks["a"] / name),
         str(decks["b"] / name)], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    changed = subprocess.run(
        [sys.executable, "-m", "harness.replay", "diff", str(decks["bench"] / name),
         str(decks["ci2f"] / name)], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert changed.returncode == 1 and "CI 0x2F" in changed.stdout
