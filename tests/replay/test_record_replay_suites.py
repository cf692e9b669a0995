"""`--record DIR` then `--device replay:DIR` on the real suites, each a real pytest process.

A subset of `suites/` is recorded on the simulator into tmp_path and replayed with no
simulator: every test passes, each cassette alone too. Then the harness is changed on
purpose (the profile's baseline asks for another TM) and the replayed test fails with the
diff naming the first differing line and its cassette line; a cut cassette gives file:line.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.profiles import BUILTIN_PROFILE_DIR
from harness.replay.cassette import cassette_path, read_info

ROOT = Path(__file__).resolve().parents[2]
QUIET = ("-p", "no:cacheprovider", "-p", "no:allure_pytest", "-p", "no:hypothesispytest")
# A few of each kind: transparent and API, a certificate upload, a key by XPUT, CI 0x26.
SUBSET = (
    "test_http_get and not extended and not escaped"
    " or test_https_get and (api-client-cert or transparent-leaf-as-ca) and not cert-v1"
)
HTTP_API = "suites/test_http.py::test_http_get[api]"
CLIENT_CERT = "suites/test_https.py::test_https_get[api-client-cert]"


def run_suites(tmp: Path, *args: str, keyword: str = SUBSET) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "suites/", "-q", "-rs", *QUIET, "-k", keyword,
           "--reports-dir", str(tmp / "reports"), *args]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=100,
                          check=False)  # fmt: skip


def counts(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", last)}


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("record")
    profile = tmp / "sim.yaml"
    shutil.copy(BUILTIN_PROFILE_DIR / "sim.yaml", profile)
    proc = run_suites(tmp, "--record", str(tmp / "cassettes"), "--profile", str(profile))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert counts(proc).get("passed") == 4, proc.stdout[-1000:]
    return tmp


def test_each_test_gets_a_stamped_cassette_and_the_pki_beside_it(deck: Path) -> None:
    directory = deck / "cassettes"
    info = read_info(cassette_path(directory, HTTP_API))
    rec = info.recording
    assert rec is not None and rec.source == "simulator"
    assert rec.personality == "cat1-3100C" and rec.firmware.get("VR") == "3100C"
    assert rec.profile_sha256 and rec.urls.get("http") == "http://google.com/"
    assert rec.pki and (directory / rec.pki / "root-ca.crt").is_file()
    # the client key went by XPUT: the cassette has its hash, never its text
    key = (directory / rec.pki / "client.key").read_bytes()
    text = cassette_path(directory, CLIENT_CERT).read_text()
    body = b"".join(key.splitlines()[1:-1]).decode()
    private = body[len(body) // 2 :]  # exponent and primes (the modulus is in client.crt too)
    assert "upload" in text and private[:40] not in text and private[-40:] not in text
    assert "PRIVATE KEY" not in text


def test_no_ephemeral_port_reaches_the_wire(deck: Path) -> None:
    """The simulator's servers listen on ephemeral loopback ports; the module is told only
    names and TEST-NET addresses, so nothing in a cassette changes with them."""
    for path in (deck / "cassettes").glob("*.jsonl"):
        for line in path.read_text().splitlines()[1:]:
            ev = json.loads(line)
            if "hex" in ev:
                raw = bytes.fromhex(ev["hex"])
                assert b"127.0.0.1" not in raw and b"localhost" not in raw, (path, ev)


def test_the_recording_replays_with_every_test_passing(deck: Path) -> None:
    proc = run_suites(deck, "--device", f"replay:{deck / 'cassettes'}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    got = counts(proc)
    assert got.get("passed") == 4 and not got.get("failed"), proc.stdout[-1000:]


def test_one_cassette_replays_alone_and_one_missing_is_skipped(deck: Path) -> None:
    alone = "test_https_get and (api-client-cert or transparent-wrong-ca) and not cert-v1"
    proc = run_suites(deck, "--device", f"replay:{deck / 'cassettes'}", keyword=alone)
    assert counts(proc) == {"passed": 1, "skipped": 1}, proc.stdout[-3000:]
    assert "no cassette" in proc.stdout and "--record" in proc.stdout  # the reason
    one = cassette_path(deck / "cassettes", CLIENT_CERT)
    proc = run_suites(deck, "--device", f"replay:{one}",
                      keyword="test_https_get and (api-client-cert or api-no-ca) and not cert-v1")
    assert counts(proc) == {"passed": 1, "skipped": 1}, proc.stdout[-3000:]
    assert "holds suites/test_https.py::test_https_get[api-client-cert]" in proc.stdout


def test_a_changed_baseline_fails_with_the_first_differing_line(deck: Path) -> None:
    profile = deck / "changed.yaml"
    text = (deck / "sim.yaml").read_text()
    assert "TM: 0x64" in text
    profile.write_text(text.replace("TM: 0x64", "TM: 0x32"))
    proc = run_suites(deck, "--device", f"replay:{deck / 'cassettes'}", "--profile",
                      str(profile), keyword="test_http_get and transparent")  # fmt: skip
    out = proc.stdout
    # configuring is the xbee fixture's job: the test errors in its setup, with the diff
    assert proc.returncode == 1 and counts(proc) == {"error": 1}, out[-3000:]
    cassette = cassette_path(deck / "cassettes", "suites/test_http.py::test_http_get[transparent]")
    m = re.search(rf"replay mismatch at {re.escape(str(cassette))}:(\d+) ", out)
    assert m, out[-3000:]
    line = json.loads(cassette.read_text().splitlines()[int(m.group(1)) - 1])
    assert line["ev"] == "tx"  # the cassette line named is the host unit expected there
    assert "command=TM parameter=0x32" in out  # what the harness wrote instead
    assert "command=TM status=0 value=0x64" in out  # the read before it, in the history
    assert "module broken" not in out  # one test's mismatch does not stop the run


def test_a_cut_cassette_fails_naming_file_and_line(deck: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    shutil.copytree(deck / "cassettes", cut)
    path = cassette_path(cut, HTTP_API)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:15])
    proc = run_suites(deck, "--device", f"replay:{cut}", keyword="test_http_get and api and "
                      "not escaped and not extended")  # fmt: skip
    assert counts(proc) == {"error": 1}, proc.stdout[-3000:]  # in setup: no replay at all
    assert f"cannot replay: {path}:{len(lines)}: truncated" in proc.stdout
    assert "Traceback" not in proc.stdout and "another exception" not in proc.stdout
