"""What a reader of the Allure report sees, read from the allure-results of real runs against
the simulator (issue 14 #4): parameters as plain values (`api`, `0x26`, a device by its
label; never `'0x8B'` nor `DeviceSpec(...)`), and the wire transcript's lines whole (a line
ends with its CR LF, so no line starts with the LF of the one before)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.profiles import BUILTIN_PROFILE_DIR

ROOT = Path(__file__).resolve().parents[2]

BODY = r"""
import pytest

def test_get(xbee, http_target):
    xbee.get(http_target)

@pytest.mark.parametrize("extra", ["one", 2])
def test_own_parameter(xbee_mode, extra):
    pass
"""


def results(alluredir: Path) -> dict[str, dict]:
    out = {}
    for path in alluredir.glob("*-result.json"):
        data = json.loads(path.read_text())
        out[data["name"]] = data
    return out


def shown(result: dict) -> dict[str, str]:
    """The parameters the report shows (hidden ones are not)."""
    params = result["parameters"]
    return {p["name"]: p.get("value", "") for p in params if p.get("mode") != "hidden"}


def run(pytester: pytest.Pytester, *args: str) -> dict[str, dict]:
    pytester.makepyfile(test_plain=BODY)
    got = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--profile", str(BUILTIN_PROFILE_DIR / "sim.yaml"),
        "--alluredir", "allure", *args, timeout=240,
    )  # fmt: skip
    assert got.ret == 0, got.stdout.str()[-3000:]
    return results(pytester.path / "allure")


def test_parameters_are_plain_values_and_a_device_is_its_label(pytester: pytest.Pytester) -> None:
    found = run(
        pytester, "--mode", "transparent", "--mode", "api",
        "--device", "sim", "--device", "sim:ltem-11415",
    )  # fmt: skip
    api = found["test_get[sim-ltem-11415-api]"]
    assert shown(api)["mode"] == "api"
    assert shown(api)["device"] == "sim-ltem-11415"
    assert shown(api)["tx_status"] == "0x00"
    assert shown(found["test_get[sim-transparent]"])["device"] == "sim"
    assert shown(found["test_own_parameter[api-one]"])["extra"] == "one"
    assert shown(found["test_own_parameter[api-2]"])["extra"] == "2"
    for name, result in found.items():
        for param, value in shown(result).items():
            assert not value.startswith("'"), f"{name}: {param}={value}"
            assert "DeviceSpec" not in value, f"{name}: {param}={value}"
    # one history id per device and mode: the trends keep the cells apart
    assert len({r["historyId"] for r in found.values()}) == len(found) == 8


def test_transcript_lines_end_with_their_cr_lf(pytester: pytest.Pytester) -> None:
    found = run(pytester, "--mode", "transparent")
    result = found["test_get[transparent]"]
    source = next(a["source"] for a in result["attachments"] if a["name"] == "capture (transcript)")
    lines = (pytester.path / "allure" / source).read_text().splitlines()
    wire = [m[1] for line in lines if (m := re.match(r"\s*[\d.]+ ((?:->|<-) .*)", line))]
    assert "-> GET / HTTP/1.1\\r\\n" in wire, "\n".join(lines)
    assert "-> Connection: close\\r\\n" in wire
    assert "-> ATCI\\r" in wire  # a module's AT exchange: its line ends with the CR alone
    assert not [w for w in wire if w[3:].startswith("\\n")], "\n".join(lines)
