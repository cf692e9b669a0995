"""HTTP/1.1 over the module, in transparent mode and in API mode, with timings and codes.

The request/response logic is sans-IO (`harness.device.http_exchange`: `HttpExchange`, h11
over an abstract byte stream, the result and the URL parsing); the three drivers here feed it
from the module:

- transparent (AP=0): the request goes down the serial line and the module opens the
  connection to DL:DE on the first data (reference §4, D-TRANSP). There is no in-band error,
  so when the response does not come, CI is polled until it leaves 0xFF (D-CI, D-TRANSP).
- API, 0x20 / 0x23 frames: 0x89 TX status per frame (D-89), response in 0xB0 frames (D-B0).
- API, extended sockets 0x40–0x46: 0xC0/0xC2/0xCF statuses, response in 0xCD (D-SF, L-C).

No response is not an exception: it is an `HttpResult` carrying the module's codes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from harness.device.errors import DeviceError, LeftoverConnection, PortLost
from harness.device.http_exchange import (
    Clock,
    HttpExchange,
    HttpResult,
    Target,
    chunks,
    module_code,
    parse_url,
)
from harness.device.leftovers import close_transparent
from harness.device.module import Module
from harness.xbee import api, codes

# ----- the drivers ------------------------------------------------------------------------

MAX_PAYLOAD = 1500  # 0x20 / 0x23 / 0x44 payload limit (D-20, D-23, D-SF p.274)
DEFAULT_TIMEOUT = 15.0  # for the whole response
IDLE_END = 2.0  # a response without a length ends after this much silence (no close signal)
CI_TIMEOUT = 10.0  # how long CI may stay 0xFF before we give up (D-CI: "No known status")
CI_POLL = 0.25
# A count, not a deadline: the same CI reads on the wire at any speed (a module-timed
# recording and its replay on a warping clock read CI as often; A-CI-POLL-COUNT).
CI_POLLS = round(CI_TIMEOUT / CI_POLL)
CI_NO_STATUS = codes.CiStatus.NO_KNOWN_STATUS  # D-CI
TLS_PROFILE_OPTION = 0x00  # 0x41 option "TLS Profile" (D-SF p.268)
PROTOCOL_TCP = codes.IpProtocol.TCP  # D-20
PROTOCOL_TLS = codes.IpProtocol.TLS  # D-20: "4 = SSL over TCP", $0 is used


class Http:
    """HTTP requests through a `Module` in whatever mode it is in.

    Transparent mode sends to DL:DE (the module's configured destination, D-TRANSP); the
    URL gives the Host header and request target. API mode sends to the URL's host and port
    with 0x20/0x23 frames (`via="frames"`, default) or an extended socket (`via="socket"`).
    """

    def __init__(
        self, module: Module, *, timeout: float = DEFAULT_TIMEOUT, stay_in_command: bool = False
    ) -> None:
        """`stay_in_command`: after a CI read the module stays in command mode, so what the
        harness does next (the next test's leftover check and configure, a restore) needs no
        `+++` of its own; a request leaves command mode first anyway (A-SHORT-GT)."""
        self.module = module
        self.timeout = timeout
        self.stay_in_command = stay_in_command

    def get(self, url: str, **kw: Any) -> HttpResult:
        return self.request("GET", url, **kw)

    def post(self, url: str, body: bytes, **kw: Any) -> HttpResult:
        return self.request("POST", url, body=body, **kw)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        via: str = "frames",
        tls_profile: int = 0,
        use_0x20: bool = False,
        timeout: float | None = None,
        first_byte_timeout: float | None = None,
        read_ci: bool = False,
        resolve: str | None = None,
    ) -> HttpResult:
        """One request; never raises for what the module or the server did (see codes).

        `first_byte_timeout` bounds the wait for any answer (then CI is polled in
        transparent mode); `read_ci` reads CI after a good response too; `resolve` gives
        the IPv4 for 0x20/0x23 instead of asking the module (`ATLA`).
        """
        target = parse_url(url)
        ex = HttpExchange(method, target, headers=headers, body=body)
        wait = self.timeout if timeout is None else timeout
        first = wait if first_byte_timeout is None else min(first_byte_timeout, wait)
        mode = self.module.ensure_mode()
        clock = Clock(self.module.tap.clock.now)
        if mode == "transparent":
            result = HttpResult(ex.method, url, "transparent")
            self._transparent(ex, result, clock, wait, first, read_ci)
        elif via == "socket":
            result = HttpResult(ex.method, url, "socket")
            self._socket(ex, target, result, clock, wait, first, tls_profile)
        elif via == "frames":
            tls23 = target.tls and not use_0x20
            result = HttpResult(ex.method, url, "tx-tls" if tls23 else "tx-ipv4")
            self._frames(ex, target, result, clock, wait, first, tls_profile, use_0x20, resolve)
        else:
            raise ValueError(f"via={via!r}: expected 'frames' or 'socket'")
        ex.fill(result)
        result.timings.total = clock()
        self.module.tap.note(
            "http",
            method=ex.method,
            url=url,
            path=result.path,
            status=result.status,
            bytes=len(result.body),
            complete=result.complete,
            codes=[str(c) for c in result.codes],
            error=result.error,
            timings={
                "connect": result.timings.connect,
                "first_byte": result.timings.first_byte,
                "total": round(result.timings.total, 4),
            },
        )
        return result

    # --- transparent mode (AP=0): D-TRANSP, D-CI ---
    def _transparent(
        self,
        ex: HttpExchange,
        result: HttpResult,
        clock: Clock,
        wait: float,
        first: float,
        read_ci: bool,
    ) -> None:
        mod = self.module
        tap = mod.tap
        mod.data()  # out of command mode: serial data now goes to DL:DE
        tap.reset_input_buffer()
        tap.write(ex.request_bytes())  # the first data opens the connection (D-TRANSP)
        self._pump(ex, result, clock, wait, first, lambda left: tap.read_available(left))
        if not ex.complete or read_ci:
            self._poll_ci(result, close_after=not ex.complete)
            if not ex.complete:
                late = tap.read_available(0)  # what came for it is not the next one's answer
                if late:
                    tap.note("stale", discarded=len(late))  # A-STALE-CLOSE

    def _poll_ci(self, result: HttpResult, *, close_after: bool = False) -> None:
        """CI in command mode until it leaves 0xFF or CI_TIMEOUT (D-CI, D-TRANSP).
        `close_after`: the request failed; close its connection whatever CI says (CI is not
        rewritten while a connection opens, so it may be an older one's code) by writing TM
        back (L-TG), so no late answer to it reaches the next request (A-STALE-CLOSE)."""
        mod = self.module
        clock = mod.tap.clock
        value = None
        read = False
        try:
            cm = mod.command()
            for n in range(CI_POLLS):
                value = cm.get("CI")
                if value != CI_NO_STATUS or n == CI_POLLS - 1:
                    break
                clock.sleep(CI_POLL)
            read = True
            if close_after:
                mod.tap.note("stale", action="close (TM written back)")
                close_transparent(mod)
        except (PortLost, LeftoverConnection):  # the port is gone / the connection stays
            raise
        except DeviceError as exc:  # the result says so
            result.error = (result.error or "no response") + f"; CI unreadable: {exc}"
        finally:
            try:
                if not (self.stay_in_command and read):
                    mod.data()
            except PortLost:  # the port is gone: not the module's answer
                raise
            except DeviceError as exc:
                result.error = (result.error or "") + f"; leaving command mode failed: {exc}"
        if value is not None:
            result.codes.append(module_code("ci", value))
            if value not in (0x00, CI_NO_STATUS) and not result.error:
                result.error = f"connection failed: {result.codes[-1]}"

    # --- API mode, 0x20 / 0x23 frames: D-20, D-23, D-89, D-B0 ---
    def _frames(
        self,
        ex: HttpExchange,
        target: Target,
        result: HttpResult,
        clock: Clock,
        wait: float,
        first: float,
        profile: int,
        use_0x20: bool,
        resolve: str | None,
    ) -> None:
        client = self.module.api()
        ip = resolve or target.ipv4 or self._lookup(target.host, result, wait)
        if ip is None:
            return

        def theirs(f: Any) -> bool:
            return bool(f.src_addr == ip and f.src_port == target.port)

        # 0xB0 names no request: what came from there before this one was sent is an earlier
        # request's late answer (A-STALE-CLOSE)
        stale = client.discard(0xB0, theirs)
        if stale:
            self.module.tap.note("stale", discarded_frames=stale, source=f"{ip}:{target.port}")
        for piece in chunks(ex.request_bytes(), MAX_PAYLOAD):
            fid = client.next_frame_id()
            if target.tls and not use_0x20:
                frame: Any = api.TXRequestTLSProfile(fid, ip, target.port, 0, profile, 0, piece)
            else:
                proto = PROTOCOL_TLS if target.tls else PROTOCOL_TCP
                frame = api.TXRequestIPv4(fid, ip, target.port, 0, proto, 0, piece)
            try:
                rec = client.request(frame, timeout=wait)
            except PortLost:  # the port is gone: not the module's answer
                raise
            except DeviceError as exc:
                result.error = f"no TX status: {exc}"
                return
            status = rec.data[2] if len(rec.data) > 2 else 0xFF
            if result.timings.connect is None:
                result.timings.connect = clock()  # 0x89 comes once the data is sent (D-89)
            if status != 0 or not result.codes:
                result.codes.append(module_code("tx_status", status))
            if status != 0:
                result.error = f"transmit failed: {result.codes[-1]}"
                return

        def read(left: float) -> bytes:
            try:
                rec = client.wait_for(0xB0, timeout=left, where=theirs)
            except PortLost:  # the port is gone: not the module's answer
                raise
            except DeviceError:
                return b""
            return bytes(rec.frame.payload)

        self._pump(ex, result, clock, wait, first, read)

    def _lookup(self, host: str, result: HttpResult, wait: float) -> str | None:
        """`ATLA host` over 0x08 (reference §3.2 LA); the answer's form is assumed to be
        4 binary bytes, or the dotted text of command mode (A-LA-FORM)."""
        client = self.module.api()
        try:
            res = client.at("LA", host, timeout=wait)
        except PortLost:  # the port is gone: not the module's answer
            raise
        except DeviceError as exc:
            result.error = f"ATLA {host}: {exc}"
            return None
        if not res.ok or not res.value:
            result.codes.append(module_code("at_status", res.status))
            result.error = f"ATLA {host} failed: {result.codes[-1]}"
            return None
        if len(res.value) == 4:
            return str(ipaddress.IPv4Address(res.value))
        try:
            return str(ipaddress.IPv4Address(res.value.decode("ascii").strip()))
        except (UnicodeDecodeError, ValueError):
            result.error = f"ATLA {host}: unreadable answer {res.value.hex(' ')}"
            return None

    # --- API mode, extended sockets: D-SF, L-C ---
    def _socket(
        self,
        ex: HttpExchange,
        target: Target,
        result: HttpResult,
        clock: Clock,
        wait: float,
        first: float,
        profile: int,
    ) -> None:
        client = self.module.api()
        try:
            sid, status = client.socket_create(PROTOCOL_TLS if target.tls else PROTOCOL_TCP)
        except PortLost:  # the port is gone: not the module's answer
            raise
        except DeviceError as exc:
            result.error = f"socket create: {exc}"
            return
        if status != 0:
            result.codes.append(module_code("socket_create", status))
            result.error = f"socket create failed: {result.codes[-1]}"
            return
        closed = False
        try:
            if target.tls and profile:
                st, _ = client.socket_option(sid, TLS_PROFILE_OPTION, bytes((profile,)))
                if st != 0:
                    result.codes.append(module_code("socket_option", st))
                    result.error = f"TLS profile option failed: {result.codes[-1]}"
                    return
            st, state = client.socket_connect(sid, target.host, target.port, timeout=wait)
            if st != 0:
                result.codes.append(module_code("socket_connect", st))
                result.error = f"connect refused by the module: {result.codes[-1]}"
                return
            result.codes.append(module_code("socket_status", state if state is not None else 0xFF))
            if state != 0:
                closed = True  # any non-zero 0xCF closes the socket for good (D-SF p.281)
                result.error = f"connect failed: {result.codes[-1]}"
                return
            result.timings.connect = clock()
            for piece in chunks(ex.request_bytes(), MAX_PAYLOAD):
                tx = client.socket_send(sid, piece, timeout=wait)
                if tx != 0:
                    result.codes.append(module_code("tx_status", tx))
                    result.error = f"socket send failed: {result.codes[-1]}"
                    return

            def read(left: float) -> bytes | None:
                nonlocal closed
                try:
                    rec = client.wait_for(
                        {0xCD, 0xCF},
                        timeout=left,
                        where=lambda f: getattr(f, "socket_id", None) == sid,
                    )
                except PortLost:  # the port is gone: not the module's answer
                    raise
                except DeviceError:
                    return b""
                if rec.type == 0xCF:
                    closed = rec.frame.status != 0
                    result.codes.append(module_code("socket_status", rec.frame.status))
                    return None  # end of stream
                return bytes(rec.frame.payload)

            self._pump(ex, result, clock, wait, first, read)
        finally:
            if not closed:
                try:
                    client.socket_close(sid, timeout=wait)
                except PortLost:  # the port is gone: not the module's answer
                    raise
                except DeviceError as exc:
                    result.error = (result.error or "") + f"; socket close: {exc}"

    # --- shared: feed the exchange until complete, closed, silent or out of time ---
    def _pump(
        self,
        ex: HttpExchange,
        result: HttpResult,
        clock: Clock,
        wait: float,
        first: float,
        read: Callable[[float], bytes | None],
    ) -> None:
        last = clock()
        while not ex.done:
            now = clock()
            if result.timings.first_byte is None:
                left = first - now
                why = f"no response within {first:g} s"
            else:
                left = min(wait - now, IDLE_END - (now - last))
                why = f"response stalled after {ex.bytes_received} bytes"
            if left <= 0:
                ex.eof()  # a close-delimited body ends here; otherwise it is incomplete
                if not ex.complete and not result.error:
                    result.error = why
                return
            data = read(min(left, 0.25))
            if data is None:
                ex.eof()
                return
            if data:
                if result.timings.first_byte is None:
                    result.timings.first_byte = clock()
                last = clock()
                ex.receive(data)
