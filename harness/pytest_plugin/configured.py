"""The module as a test sees it (`XBee`: configured for its mode and TLS variant) and the
certificate uploads a test's variant (or a control) needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness import report, variants
from harness.device.files import Files, remote_path, sha256_hex
from harness.device.http import Http
from harness.device.http_exchange import HttpResult, parse_url
from harness.pytest_plugin.port import Port
from harness.pytest_plugin.session import HilSession


@dataclass
class XBee:
    """The module as a test sees it: configured for its mode and TLS variant."""

    port: Port
    mode: str
    variant: variants.TlsVariant | None
    http: Http
    record_codes: Callable[..., list[str]]
    session: HilSession | None = None
    item: Any = None  # the pytest item (the verdict goes to its stash)

    @property
    def family(self) -> Any:
        """The module's firmware family (harness.xbee.firmware), or None when unknown."""
        return self.port.family

    def check(self, result: HttpResult, expect: str | None = None) -> Any:
        """Judge a result against the test's TLS variant, with the target's control
        (harness.pytest_plugin.controls.check): passes, fails, or raises `Inconclusive`."""
        from harness.pytest_plugin import controls

        return controls.check(self, result, expect)

    @property
    def code_kind(self) -> str:
        """Where this mode reports a failure: CI in transparent mode (D-TRANSP), the 0x89
        TX status for 0x20/0x23 frames in API mode (D-89)."""
        return "ci" if self.mode == "transparent" else "tx_status"

    def get(self, url: str, **kw: Any) -> HttpResult:
        return self.request("GET", url, **kw)

    def request(self, method: str, url: str, **kw: Any) -> HttpResult:
        """One HTTP request through the module; its codes go to the report and the matrix.
        In transparent mode the module's destination (IP, DL, DE) is set from the URL first."""
        target = parse_url(url)
        if self.mode == "transparent":
            self.port.configurator.apply(
                {"IP": 4 if target.tls else 1, "DL": target.host, "DE": target.port}
            )
        kw.setdefault("first_byte_timeout", self.port.first_byte_timeout)
        kw.setdefault("read_ci", self.mode == "transparent")
        record = kw.pop("record", True)  # False: a control's request, not this test's codes
        result = self.http.request(method, url, **kw)
        title = f"HTTP {method} {url}" if record else f"control: HTTP {method} {url}"
        report.attach_text(report.http_text(result), title)
        if record:
            self.record_codes(result)  # Allure steps and parameters, the matrix cell
        return result

    def expected_codes(self, reason: str) -> set[int]:
        """The codes this module's firmware family gives for a failure reason, in this mode
        (harness.xbee.firmware). Empty when the firmware is not known: judge with
        `check`, which falls back to reason families."""
        if self.port.family is None:
            return set()
        return {self.port.family.code(reason, self.code_kind)}


def variant_files(port: Port, variant: variants.TlsVariant) -> list[tuple[variants.Upload, bytes]]:
    out = []
    for upload in variant.uploads:
        data = port.files.get(upload.pki)
        if data is None:
            why = port.missing.get(upload.pki) or "a file the profile does not name"
            pytest.skip(f"TLS variant {variant.name} needs {upload.pki}: {why}")
        out.append((upload, data))
    return out


def put(port: Port, files: Files, upload: variants.Upload, data: bytes) -> None:
    """Upload one certificate unless this run already knows it is there (same SHA-256);
    otherwise `Files.put` checks the module's hash and uploads only when it differs."""
    path = remote_path(upload.name)
    digest = sha256_hex(data)
    if port.files_on_module.get(path) == digest:
        port.uploads["uploads_known"] += 1
        port.tap.note("file", path=path, action="known", sha256=digest)
        return
    done = files.put(data, upload.name, secure=upload.secure)
    port.files_on_module[done.path] = done.sha256
    port.uploads["uploads_skipped" if done.skipped else "uploads"] += 1
    port.uploads["upload_bytes"] += 0 if done.skipped else done.size
