"""`openssl s_server -www` with the PKI's chain: a TLS server nobody here wrote."""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass, field

from harness.servers.http import LOOPBACK
from harness.servers.pki import Pki

OPENSSL_START_TIMEOUT = 10.0


def openssl_path() -> str | None:
    return shutil.which("openssl")


def openssl_skip_reason() -> str | None:
    """None when `openssl s_server` can run here, else why a test using it must skip."""
    return (
        None
        if openssl_path()
        else "openssl is not on PATH: no third-party TLS server to test against"
    )


def skip_unless_openssl() -> None:
    """Skip the calling test (with the reason) when openssl is missing."""
    reason = openssl_skip_reason()
    if reason:
        import pytest

        pytest.skip(reason)


@dataclass
class OpenSslServer:
    """`openssl s_server -www` with the PKI's chain; `mutual=True` demands a client certificate
    from the client CA (`-Verify 1 -verify_return_error`)."""

    pki: Pki
    mutual: bool = False
    selfsigned: bool = False
    extra_args: tuple[str, ...] = ()
    host: str = LOOPBACK
    port: int = 0
    output: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def command(self) -> list[str]:
        exe = openssl_path()
        if exe is None:
            raise RuntimeError(openssl_skip_reason())
        if self.selfsigned:
            cert = [
                "-cert",
                str(self.pki.path("selfsigned_cert")),
                "-key",
                str(self.pki.path("selfsigned_key")),
            ]
        else:
            cert = [
                "-cert",
                str(self.pki.path("server_cert")),
                "-key",
                str(self.pki.path("server_key")),
                "-cert_chain",
                str(self.pki.path("intermediate_ca")),
            ]
        args = [exe, "s_server", "-accept", f"{LOOPBACK}:0", "-www", *cert]
        if self.mutual:
            args += [
                "-Verify",
                "1",
                "-CAfile",
                str(self.pki.path("client_ca")),
                "-verify_return_error",
            ]
        return args + list(self.extra_args)

    def start(self) -> OpenSslServer:
        proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._proc = proc
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                self.output.append(line)
                if line.startswith("ACCEPT") and not ready.is_set():
                    self.port = int(line.rsplit(":", 1)[1])
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, name="openssl-s_server", daemon=True)
        self._reader.start()
        if not ready.wait(OPENSSL_START_TIMEOUT) or not self.port:
            self.stop()
            raise RuntimeError(f"openssl s_server did not start: {' | '.join(self.output[-5:])}")
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=2)

    def __enter__(self) -> OpenSslServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
