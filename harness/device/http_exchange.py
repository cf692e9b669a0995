"""HTTP/1.1 as the module carries it, without I/O: the result (`HttpResult` with the
module's codes and timings), the request target (`parse_url`) and `HttpExchange`, h11 over an
abstract byte stream that the drivers in `harness.device.http` feed from the module."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from harness.xbee import codes

# ----- the result -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleCode:
    """One code the module reported, with Digi's meaning (from `harness.xbee.codes`)."""

    kind: str  # "ci", "tx_status", "socket_status", "socket_state", "at_status"
    value: int
    name: str = ""
    meaning: str = ""

    def __str__(self) -> str:
        return f"{self.kind}=0x{self.value:02X} {self.meaning or 'unknown'}"


# Which code table each kind of code is read with (harness.xbee.codes).
CODE_TABLES = {
    "ci": "CI",  # D-CI, IP = 1 or 4 (this module only speaks TCP/TLS)
    "tx_status": "TX",  # D-89
    "socket_create": "SOCKET-CREATE",  # D-SF p.267
    "socket_option": "SOCKET-OPTION",  # D-SF p.269
    "socket_connect": "SOCKET-CONNECT",  # D-SF p.271
    "socket_status": "SOCKET",  # 0xCF, D-SF p.281
    "socket_close": "SOCKET-CLOSE",  # D-XS p.174
    "at_status": "AT",  # D-88
}


def module_code(kind: str, value: int) -> ModuleCode:
    """A code with its name and Digi's meaning; unknown values keep their raw byte."""
    row = codes.lookup(CODE_TABLES[kind], value)
    return ModuleCode(kind, value, row.name, row.meaning)


@dataclass(slots=True)
class Timings:
    """Seconds from the start of the request. `connect` is None when the path has no signal
    for it (transparent mode has none: the module opens the link silently, D-TRANSP)."""

    connect: float | None = None
    first_byte: float | None = None
    total: float = 0.0


@dataclass(slots=True)
class HttpResult:
    """What one request got: the response (if any), timings and the module's codes."""

    method: str
    url: str
    path: str  # "transparent", "tx-ipv4" (0x20), "tx-tls" (0x23), "socket"
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    complete: bool = False
    timings: Timings = field(default_factory=Timings)
    codes: list[ModuleCode] = field(default_factory=list)
    error: str | None = None  # why the response is missing or incomplete, in words

    @property
    def ok(self) -> bool:
        return self.complete and self.status is not None and 200 <= self.status < 300

    def code(self, kind: str) -> ModuleCode | None:
        """The last code of this kind, e.g. `result.code("ci")`."""
        for c in reversed(self.codes):
            if c.kind == kind:
                return c
        return None

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    def summary(self) -> str:
        head = f"{self.method} {self.url} via {self.path}: "
        head += f"HTTP {self.status} {self.reason}" if self.status is not None else "no response"
        if self.codes:
            head += " [" + ", ".join(str(c) for c in self.codes) + "]"
        if self.error:
            head += f" ({self.error})"
        return head


# ----- the request target -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL points: scheme, host, port, request-target, and whether it is TLS."""

    scheme: str
    host: str
    port: int
    target: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @property
    def ipv4(self) -> str | None:
        """The host if it is a dotted quad, else None (needs resolving for 0x20/0x23)."""
        try:
            return str(ipaddress.IPv4Address(self.host))
        except ValueError:
            return None


def parse_url(url: str) -> Target:
    """Split an http(s) URL; a clear ValueError names the URL when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"bad port in URL {url!r}: {exc}") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, target)


# ----- the sans-IO exchange ---------------------------------------------------------------


class HttpExchange:
    """One HTTP/1.1 request and its response over an abstract byte stream (h11).

    `request_bytes()` gives what to send; `receive(data)` takes what came back, in any
    chunking, and returns True when the response is complete; `eof()` says the stream ended
    (a close-delimited body ends there). Protocol errors become `error`, not exceptions,
    because a broken response is a test result.
    """

    def __init__(
        self,
        method: str,
        target: Target,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        close: bool = True,
    ) -> None:
        self.method = method.upper()
        self.url_target = target
        self._conn = h11.Connection(h11.CLIENT)
        hdrs = [("Host", target.host_header)]
        names = set()
        for k, v in headers:
            names.add(k.lower())
            if k.lower() != "host":
                hdrs.append((k, v))
        wants_length = body or self.method in ("POST", "PUT", "PATCH")
        if wants_length and not names & {"content-length", "transfer-encoding"}:
            hdrs.append(("Content-Length", str(len(body))))
        if close and "connection" not in names:
            hdrs.append(("Connection", "close"))
        self._headers = hdrs
        self._body = body
        self.status: int | None = None
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self._chunks: list[bytes] = []
        self.complete = False
        self.error: str | None = None
        self.bytes_received = 0

    @property
    def body(self) -> bytes:
        return b"".join(self._chunks)

    @property
    def done(self) -> bool:
        return self.complete or self.error is not None

    def request_bytes(self) -> bytes:
        conn = self._conn
        out = conn.send(
            h11.Request(method=self.method, target=self.url_target.target, headers=self._headers)
        )
        if self._body:
            out += conn.send(h11.Data(data=self._body))
        out += conn.send(h11.EndOfMessage())
        return out or b""

    def receive(self, data: bytes) -> bool:
        if self.done:
            return True
        self.bytes_received += len(data)
        try:
            self._conn.receive_data(data)
            self._drain()
        except h11.RemoteProtocolError as exc:
            self.error = f"bad HTTP response: {exc}"
        return self.done

    def eof(self) -> None:
        """The byte stream ended (connection closed, or we stopped waiting)."""
        if self.done:
            return
        try:
            self._conn.receive_data(b"")
            self._drain()
        except h11.RemoteProtocolError as exc:
            self.error = f"connection closed mid-response: {exc}"

    def _drain(self) -> None:
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                self.status = event.status_code
                self.reason = event.reason.decode("latin-1")
                self.headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers
                ]
            elif isinstance(event, h11.Data):
                self._chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
                return
            elif isinstance(event, h11.ConnectionClosed):
                if not self.complete:
                    self.error = "connection closed before the response was complete"
                return

    def fill(self, result: HttpResult) -> HttpResult:
        """Copy the response into a result."""
        result.status = self.status
        result.reason = self.reason
        result.headers = list(self.headers)
        result.body = self.body
        result.complete = self.complete
        if self.error and not result.error:
            result.error = self.error
        return result


class Clock:
    """Monotonic seconds since the request started; one place for time in the drivers."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self.start = now()

    def __call__(self) -> float:
        return self._now() - self.start


def chunks(data: bytes, size: int) -> Sequence[bytes]:
    """Split a payload into frame-sized pieces (0x20/0x23/0x44 carry at most 1500: D-20)."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]
