"""A real run of part of the suites against the simulator leaves, for each test, an Allure
result with what the issue promises: the capture (transcript and JSON Lines) and the HTTP
exchange as attachments of the test itself, the module's codes as steps and hex parameters,
`mode` / `tls_variant`, and labels for device, personality, firmware and profile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_suite_results_carry_captures_codes_and_labels(tmp_path: Path) -> None:
    alluredir = tmp_path / "allure"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_https.py", "-q", "-p", "no:cacheprovider",
         "--mode", "transparent", "--tls-variant", "leaf-as-ca", "--tls-variant", "root-ca",
         "--alluredir", str(alluredir), "--reports-dir", str(tmp_path / "reports")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    results = {}
    for path in alluredir.glob("*-result.json"):
        data = json.loads(path.read_text())
        results[data["name"]] = data
    assert set(results) == {
        "test_https_get[transparent-leaf-as-ca]", "test_https_get[transparent-root-ca]"
    }  # fmt: skip
    failing = results["test_https_get[transparent-leaf-as-ca]"]
    attachments = [a["name"] for a in failing["attachments"]]
    assert "capture (transcript)" in attachments and "capture.jsonl" in attachments
    assert any(name.startswith("HTTP GET https://google.com/") for name in attachments)
    params = {p["name"]: p["value"] for p in failing["parameters"]}
    assert params["mode"] == "transparent" and params["tls_variant"] == "leaf-as-ca"
    assert params["ci"] == "0x26"  # F-HTTPS on cat1-3100C
    assert [s["name"] for s in failing["steps"]] == [
        "CI = 0x26 Connection refused",
        "verdict: pass: CI 0x26: TLS authentication or refused; control root-ca reached the "
        "server",
    ]
    labels = {label["name"]: label["value"] for label in failing["labels"]}
    assert labels["device"] == "sim" and labels["personality"] == "cat1-3100C"
    assert labels["profile"] == "sim" and labels["firmware"] == "3100C"
    transcript = next(a for a in failing["attachments"] if a["name"] == "capture (transcript)")
    text = (alluredir / transcript["source"]).read_text()
    assert "ATFS PUT /flash/cert/wgc.crt" in text or "ATCI" in text
    assert (tmp_path / "reports" / "matrix.md").is_file()
    assert (tmp_path / "reports" / "matrix.html").is_file()
