"""Reports: code texts, redaction, categories, environment, the matrix, and real Allure output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import report
from harness.device.http_exchange import HttpResult, Timings, module_code
from harness.profiles import BUILTIN_PROFILE_DIR
from harness.report import Matrix, Outcome


def test_codes_read_as_digi_writes_them() -> None:
    assert report.code_line("ci", 0x26) == "CI = 0x26 Connection refused"
    assert report.code_line("tx_status", 0x8B) == "TX status = 0x8B TLS Socket Authentication Error"
    assert report.code_line("socket_status", 0x02).startswith("socket status = 0x02 ")
    assert report.code_line("ci", 0x99) == "CI = unknown (0x99)"
    assert report.short_code("tx_status", 0x86) == "TX 0x86"


def test_redact_masks_secrets_as_text_and_hex_and_private_keys() -> None:
    secret = "hunter2-secret"
    text = (
        f"ATCW{secret}\r {secret.encode().hex()} {secret.encode().hex(' ').upper()}\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"
    )
    masked = report.redact(text, [secret])
    assert secret not in masked and secret.encode().hex() not in masked
    assert "MIIEow" not in masked and "PRIVATE KEY ****" in masked
    assert masked.count(report.MASK) == 4


def categorize(message: str, trace: str, categories: list[dict] | None = None) -> list[str]:
    """Allure's rule: a category takes a result when every regex it has matches in full."""
    names = []
    for c in report.categories() if categories is None else categories:
        if "failed" not in c["matchedStatuses"]:
            continue
        if "messageRegex" in c and not re.fullmatch(c["messageRegex"], message):
            continue
        if "traceRegex" in c and not re.fullmatch(c["traceRegex"], trace):
            continue
        names.append(c["name"])
    return list(dict.fromkeys(names))


CODE_CASES = [
    ("CI = 0x26 Connection refused", "Connection refused"),
    ("TX status = 0x80 Connection refused", "Connection refused"),
    ("CI = 0x2F TLS Socket Authentication Error", "TLS authentication"),
    ("TX status = 0x8B TLS Socket Authentication Error", "TLS authentication"),
    ("TX status = 0x86 Invalid TLS configuration", "TLS configuration"),
    ("CI = 0x24 No server - timed out on connection", "No response"),
    ("socket status = 0x04 Timed out", "No response"),
    ("CI = 0x22 No network registration", "Not registered"),
]


@pytest.mark.parametrize(("line", "family"), CODE_CASES)
def test_categories_group_failures_by_the_code_in_the_trace(line: str, family: str) -> None:
    trace = f"def test_x():\n>  assert ok\nE  AssertionError\n--- codes ---\n{line}\n"
    assert categorize("AssertionError: assert False", trace) == [family]


def test_categories_take_words_from_the_message_only() -> None:
    assert categorize("TimeoutError: no response within 30 s", "") == ["No response"]
    assert categorize("AssertionError", "x = 'no response'") == []
    # a code decides over words: refused, even though the message says "no response"
    refused = "E  AssertionError: no response\n--- codes ---\nCI = 0x26 Connection refused\n"
    assert categorize("AssertionError: no response", refused) == ["Connection refused"]


def test_an_unrelated_failure_falls_to_the_default_categories() -> None:
    assert categorize("AssertionError: 404 != 200", "assert 404 == 200") == []
    assert report.family_of({"ci": 0x26}) == "Connection refused"
    assert report.family_of({"tx_status": 0x00}) is None


def test_environment_properties_escape_and_mask(tmp_path: Path) -> None:
    path = report.write_environment(
        tmp_path,
        {"VR sim": "3100C", "profile:file": "a=b", "notes": "two\nlines",
         "apn_password": "hunter2", "IMEI": "353907104826176", "empty": ""},
    )  # fmt: skip
    lines = path.read_text().splitlines()
    assert lines == [
        "VR\\ sim=3100C",
        "profile\\:file=a=b",
        "notes=two\\nlines",
        "apn_password=****",
        "IMEI=****",
    ]


def test_matrix_keeps_the_most_severe_outcome_and_its_codes() -> None:
    matrix = Matrix(mode_order=("transparent", "api"), variant_order=("no-ca", "leaf-as-ca"))
    matrix.add("t", "api", "leaf-as-ca", Outcome.PASSED, test="a")
    matrix.add("t", "api", "leaf-as-ca", Outcome.FAILED, {"ci": 0x26}, "no response", "b")
    matrix.add("t", "api", "leaf-as-ca", Outcome.SKIPPED, {"tx_status": 0x8B}, test="c")
    cell = matrix.cells[("t", "leaf-as-ca", "api")]
    assert cell.outcome is Outcome.FAILED and cell.detail == "no response"
    assert cell.codes == {"ci": 0x26, "tx_status": 0x8B}
    assert cell.tests == ["a", "b", "c"]
    assert cell.text() == "✗ failed · CI 0x26 TX 0x8B"
    matrix.add("t", "transparent", None, Outcome.PASSED)
    assert matrix.axes("t") == (["leaf-as-ca", "-"], ["transparent", "api"])


def test_cell_says_outcome_code_and_expectation() -> None:
    """Obs 9: a completed 200 is not "connection failed"; the verdict's text is the cell."""
    matrix = Matrix()
    cell = matrix.add("t", "transparent", None, Outcome.PASSED, {"ci": 0x27}, status=200)
    assert cell.text() == "✓ 200 · CI 0x27"
    cell = matrix.add("t", "transparent", "wrong-ca", Outcome.INCONCLUSIVE, {"ci": 0x25},
                      verdict="? inconclusive · control CI 0x25")  # fmt: skip
    assert cell.text() == "? inconclusive · control CI 0x25"
    cell = matrix.add("own", None, "guide", Outcome.PASSED, note="own simulator")
    assert cell.text() == "✓ (own simulator)"
    assert matrix.to_dict()["cells"][1]["outcome"] == "inconclusive"


def test_matrix_renders_text_markdown_and_escaped_html(tmp_path: Path) -> None:
    matrix = Matrix(mode_order=("transparent", "api"))
    matrix.add("test_https.py::test_get", "transparent", "root-ca", Outcome.PASSED)
    matrix.add("test_https.py::test_get", "api", "root-ca", Outcome.ERROR, {"ci": 0x26})
    matrix.add("<script>alert(1)</script>|x", "api", "no-ca", Outcome.SKIPPED, detail="a & b")
    text = report.render_text(matrix)
    assert "  root-ca      ✓            ✗ error · CI 0x26" in text
    md = report.render_markdown(matrix)
    assert "| root-ca | ✓ | ✗ error · CI 0x26 |" in md
    assert "## &lt;script&gt;alert(1)&lt;/script&gt;\\|x" in md
    page = report.render_html(matrix)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;|x" in page
    assert '<td class="error" title="CI = 0x26 Connection refused">✗ error · CI 0x26</td>' in page
    assert 'title="a &amp; b"' in page
    paths = report.write_matrix(matrix, tmp_path / "reports")
    assert [p.name for p in paths] == ["matrix.md", "matrix.html", "matrix.json"]
    cells = json.loads(paths[2].read_text())["cells"]
    assert cells[1]["codes"] == {"ci": "0x26"} and cells[1]["outcome"] == "error"


def test_http_text_shows_the_exchange_with_credentials_masked() -> None:
    result = HttpResult(
        method="GET", url="https://google.com/", path="tx-tls", status=None,
        body=b"x" * (report.BODY_PREVIEW + 10), timings=Timings(None, 0.25, 0.5),
        codes=[module_code("tx_status", 0x8B)], error="no response within 30 s",
    )  # fmt: skip
    text = report.http_text(result, [("Authorization", "Basic dXNlcjpwYXNz"), ("Host", "g")])
    assert "> GET https://google.com/" in text
    assert "> Authorization: ****" in text and "dXNlcjpwYXNz" not in text
    assert "< (no status line: no response within 30 s)" in text
    assert "… (10 more bytes)" in text
    assert "timings: first_byte 250.0 ms, total 500.0 ms" in text
    assert "  TX status = 0x8B TLS Socket Authentication Error" in text


# ----- a real run: allure-pytest results written through the plugin -------------------------

INNER_TEST = r"""
import pytest
from harness import report
from harness.capture import CaptureWriter, read_capture, render
from harness.device.http_exchange import HttpResult, module_code

def test_https_get(xbee_mode, tls_variant, xbee_record_codes, xbee_hil_session, tmp_path):
    capture = tmp_path / "wire.jsonl"
    with CaptureWriter(capture, test="t", device="sim") as writer:
        writer.wire("tx", b"GET /?pw=hunter2-secret HTTP/1.1\r\nHost: google.com\r\n\r\n")
    report.attach_capture(
        capture, lambda: "\n".join(render(read_capture(capture))),
        secrets=xbee_hil_session.secrets(),
    )
    if tls_variant == "root-ca":
        result = HttpResult("GET", "https://google.com/", "transparent", 200, "OK",
                            body=b"<html>hello</html>", complete=True)
        report.attach_http(result)
        return
    result = HttpResult("GET", "https://google.com/", "transparent",
                        codes=[module_code("ci", 0x26)], error="no response")
    xbee_record_codes(result)
    report.attach_http(result)
    assert result.status == 200, "no HTTP response"
"""


@pytest.fixture
def inner_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.setenv("XBEE_HIL_TEST_APN_PASSWORD", "hunter2-secret")
    (pytester.path / "bench.yaml").write_text(
        "extends: "
        + str(BUILTIN_PROFILE_DIR / "sim.yaml")
        + "\nname: sim-bench\nnetwork:\n  apn_password: {env: XBEE_HIL_TEST_APN_PASSWORD}\n"
    )
    pytester.makepyfile(INNER_TEST)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--profile", "bench.yaml",
        "--mode", "api", "--tls-variant", "root-ca", "--tls-variant", "leaf-as-ca",
        timeout=90,
    )  # fmt: skip


def load_results(results: Path) -> dict[str, dict]:
    out = {}
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text())
        out[data["name"]] = data
    return out


def test_a_run_writes_allure_results_categories_environment_and_matrix(
    pytester: pytest.Pytester, inner_run: pytest.RunResult
) -> None:
    """One real run (a subprocess, so its Allure listener is its own); three checks."""
    inner_run.assert_outcomes(passed=1, failed=1)
    check_allure_results(pytester.path / "reports" / "allure-results")
    check_environment_and_categories(pytester.path / "reports" / "allure-results")
    check_matrix(pytester.path / "reports", inner_run)


def check_allure_results(results_dir: Path) -> None:
    results = load_results(results_dir)
    assert set(results) == {"test_https_get[api-root-ca]", "test_https_get[api-leaf-as-ca]"}
    failed = results["test_https_get[api-leaf-as-ca]"]
    assert failed["status"] == "failed"
    params = {p["name"]: p for p in failed["parameters"]}
    assert params["mode"]["value"] == "api"
    assert params["tls_variant"]["value"] == "leaf-as-ca"
    assert params["ci"]["value"] == "0x26"
    assert params["xbee_mode"]["mode"] == "hidden"
    labels = {(label["name"], label["value"]) for label in failed["labels"]}
    assert {("device", "sim"), ("personality", "cat1-3100C"), ("profile", "sim-bench")} <= labels
    assert [s["name"] for s in failed["steps"]][:1] == ["CI = 0x26 Connection refused"]
    assert "CI = 0x26 Connection refused" in failed["statusDetails"]["trace"]
    attachments = {a["name"]: results_dir / a["source"] for a in failed["attachments"]}
    assert {"capture (transcript)", "capture.jsonl", "HTTP"} <= set(attachments)
    transcript = attachments["capture (transcript)"].read_text()
    assert "GET /?pw=****" in transcript and "hunter2-secret" not in transcript
    raw = attachments["capture.jsonl"].read_text()
    assert b"hunter2-secret".hex() not in raw and "****" in raw
    http = attachments["HTTP"].read_text()
    assert "< (no status line: no response)" in http
    passed = results["test_https_get[api-root-ca]"]
    assert passed["status"] == "passed" and "ci" not in {p["name"] for p in passed["parameters"]}


def check_environment_and_categories(results_dir: Path) -> None:
    env = (results_dir / "environment.properties").read_text()
    assert "profile=sim-bench\n" in env and "personality.sim=cat1-3100C\n" in env
    assert "hunter2" not in env
    categories = json.loads((results_dir / "categories.json").read_text())
    details = load_results(results_dir)["test_https_get[api-leaf-as-ca]"]["statusDetails"]
    assert categorize(details["message"], details["trace"], categories) == ["Connection refused"]


def check_matrix(reports_dir: Path, inner_run: pytest.RunResult) -> None:
    inner_run.stdout.fnmatch_lines(
        [
            "*xbee-hil: mode x TLS-variant matrix*",
            "test_a_run_writes_allure_results_categories_environment_and_matrix.py::test_https_get",
            "  TLS variant  api",
            "  root-ca      ✓",
            "  leaf-as-ca   ✗ failed · CI 0x26",
        ]
    )
    md = (reports_dir / "matrix.md").read_text()
    assert "| leaf-as-ca | ✗ failed · CI 0x26 |" in md
    page = (reports_dir / "matrix.html").read_text()
    assert '<td class="failed" title="CI = 0x26 Connection refused' in page
