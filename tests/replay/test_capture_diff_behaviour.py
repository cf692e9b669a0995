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

from harness.capture import RX, TX, CaptureWriter
from harness.cli import main
from harness.sim.core import personality as personality_mod
from harness.xbee import api
from tests.plugin.benchrig import start_bench
from tests.replay.cleanrun import record_clean

ROOT = Path(__file__).resolve().parents[2]
SUITE = str(ROOT / "suites" / "test_https.py")
INNER = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-p", "no:hypothesispytest", "-q"]  # fmt: skip
SAME = "client-cert and not mutual and not v1"  # uploads (PUT and XPUT), hashes, 0xB0 payloads, CI
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


# ----- the same rules on crafted captures (no recording) ---------------------------------------


def _craft(path: Path, events: list[tuple[str, bytes]]) -> Path:
    t = [50.0]

    def clock() -> float:
        return t[0]

    with CaptureWriter(path, test="suites/test_https.py::test_get", device="pty",
                       clock=clock) as w:  # fmt: skip
        for direction, data in events:
            t[0] += 0.01
            w.wire(direction, data)
    return path


def _get_exchange(status: bytes, cuts: list[int], local_port: int) -> list[tuple[str, bytes]]:
    """A 0x20 GET and the response in 0xB0 frames cut at `cuts`."""
    body = b"HTTP/1.1 " + status + b"\r\nContent-Length: 5\r\n\r\nhello"
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    get = api.TXRequestIPv4(1, "203.0.113.10", 80, 0, 1, 0, b"GET / HTTP/1.1\r\n\r\n")
    out = [(TX, api.encode(get)), (RX, api.encode(api.TXStatus(1, 0)))]
    out += [(RX, api.encode(api.RXIPv4("203.0.113.10", local_port, 80, 1, 0, p))) for p in pieces]
    return out


def test_payloads_cut_otherwise_are_one_stream_and_a_changed_status_stands_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _craft(tmp_path / "a.jsonl", _get_exchange(b"200 OK", [10, 30], 40001))
    b = _craft(tmp_path / "b.jsonl", _get_exchange(b"200 OK", [25], 40777))
    code, out = _diff(capsys, a, b)
    assert code == 0, out
    code, out = _diff(capsys, a, b, "--bytes")
    assert code == 1 and "dest_port" in out
    c = _craft(tmp_path / "c.jsonl", _get_exchange(b"404 Not Found", [25], 40777))
    code, out = _diff(capsys, a, c)
    body = out.splitlines()[2:]
    assert code == 1
    assert body == [
        "payload stream differs: 0xB0 from 203.0.113.10:80 protocol 1 (43 → 50 bytes)",
        "  - b'HTTP/1.1 200 OK\\r\\n'",
        "  + b'HTTP/1.1 404 Not Found\\r\\n'",
        "1 exchange(s) differ",
    ], out


def _upload(acks: list[bytes]) -> list[tuple[str, bytes]]:
    """An `ATFS PUT` of a small file by YMODEM, the receiver's answers read as `acks`."""
    from harness.xbee import ymodem

    sender, rx = ymodem.YmodemSender("x.crt", b"A" * 300), ymodem.YmodemReceiver()
    wire = []
    sender.start(0.0)
    answer = rx.start(0.0)
    while not sender.done:
        block = sender.feed(answer, 0.0)
        if not block:
            break
        wire.append(block)
        answer = rx.feed(block, 0.0)
    out = [(TX, b"ATFS PUT /flash/cert/x.crt\r"), (RX, b"Receiving file with YMODEM...\r")]
    out += [(TX, block) for block in wire]
    out += [(RX, chunk) for chunk in acks]
    return [*out, (RX, b"OK\r")]


def test_ymodem_acks_merged_into_other_reads_are_the_same_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.replay.behaviour import control_runs

    a = _craft(tmp_path / "a.jsonl", _upload([b"C", b"\x06C", b"\x06", b"\x06", b"\x06C", b"\x06"]))
    b = _craft(tmp_path / "b.jsonl", _upload([b"CC", b"\x06C\x06\x06", b"\x06C\x06"]))
    code, out = _diff(capsys, a, b)
    assert code == 0, out
    assert control_runs(b"CC\x06C\x06\x06\x06C\x06") == "C ACK C ACKx3 C ACK"
    fewer = _craft(tmp_path / "c.jsonl", _upload([b"C", b"\x06C", b"\x06", b"\x06C", b"\x06"]))
    code, out = _diff(capsys, a, fewer)
    assert code == 1 and "<YMODEM receiver: C ACK C ACKx2 C ACK>" in out
