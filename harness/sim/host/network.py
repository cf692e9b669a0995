"""The simulated cellular network: DNS, routes to loopback, real sockets, real TLS.

The world the simulated module lives in (`SimServer`'s `world`). The pure Modem asks for
`OpenConnection` / `SendData` / `CloseConnection` / `Listen` / `Reset`; `Network.perform`
queues each for its own thread, which carries it out with real non-blocking sockets and a
real TLS handshake (`host.tlsrules`: no SNI, Digi's CA rules) and posts the outcome back as
events (`ConnectionOpened`, `ConnectionFailed`, `DataReceived`, `ConnectionClosed`,
`ClientAccepted`) through the `post` callable given to `start`.

The network is small: a DNS map (name → IPv4) and routes (IPv4[:port] → a real host:port on
loopback); they are its only way out. A name not in DNS fails the lookup; an address with no
route, loopback included, is a server that never answers (the connect fails after
`no_route_timeout`). `loopback_direct: true` (`--loopback-direct`) lets 127.0.0.0/8 reach the
host's own loopback without a route, a way into the host's local services: ask for it only
when the simulator is served on loopback (A-NET-ROUTES-ONLY). Optional
`latency` (round trip) and `tls_handshake_time` make timing realistic; `stats()` accounts
the time the network imposed, for the host to subtract or report.

Over 600 lines as one coherent thing: `Network` is one selector loop over its connections
(open, TLS handshake, send, read, accept, close), whose steps share its state; its config
is in `netconfig` and its command-line flags in `netflags`.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import ipaddress
import itertools
import logging
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.sim.core.effects import (
    ClientAccepted,
    CloseConnection,
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Effect,
    Event,
    Failure,
    Listen,
    OpenConnection,
    Protocol,
    Reset,
    Resolve,
    Resolved,
    SendBacklog,
    SendData,
)
from harness.sim.core.tlsfiles import TlsConfigError
from harness.sim.host import tlsrules
from harness.sim.host.netconfig import NetworkConfig

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Connection ids the network gives to clients accepted on a listener. The Modem numbers its
# own connections from a small counter; this range keeps the two apart (docs/design.md).
ACCEPTED_ID_BASE = 0x10000
RECV_SIZE = 65536
# At most this much is read from one connection before its data is posted, so the host's
# back-pressure (`set_reading`) takes effect within a burst, whatever the kernel buffered.
READ_BURST = 4 * RECV_SIZE
UDP_MAX = 65507

DRAIN_TIMEOUT = 2.0  # after a host close, how long to wait for the far end's EOF


# ----- the network --------------------------------------------------------------------------


@dataclass
class _Conn:
    conn_id: int
    protocol: Protocol
    sock: socket.socket
    remote: tuple[str, int]  # simulated address (after DNS)
    real: tuple[str, int] | None  # where it really goes
    local_port: int = 0
    state: str = "connecting"  # connecting, handshaking, open, draining
    closing: bool = False  # the host closed it: drop once `out` is sent
    tls: tlsrules.ClientTls | None = None
    out: bytearray = field(default_factory=bytearray)
    want_write: bool = False
    started: float = 0.0
    deadline: float | None = None
    listener: bool = False  # made by Listen (TCP: accepts; UDP: bound socket)
    ready_at: float = 0.0  # when ConnectionOpened is posted (events for it come after)
    backlogged: bool = False  # SendBacklog(waiting=True) posted and not yet lifted


class Network:
    """Carries out the Modem's network effects with real sockets on its own thread."""

    def __init__(
        self, config: NetworkConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or NetworkConfig()
        self.clock = clock
        self._routes = self.config.route_table()
        self._reverse = {real: (ip, port or real[1]) for (ip, port), real in self._routes.items()}
        self._post: Callable[[Event], None] = lambda event: None
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._commands: deque[Effect] = deque()
        self._lock = threading.Lock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._conns: dict[int, _Conn] = {}
        self._listen_ports: dict[int, tuple[str, int]] = {}
        self._accepted_ids = itertools.count(ACCEPTED_ID_BASE)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # back-pressure from the server (`set_reading`): open TCP/TLS connections are not
        # read while False, so their far ends wait on a full TCP window
        self._reading = True
        self._resume = False
        self._awake = False  # the network thread is in a pass (between select and select)
        self._applying = 0  # commands performed and not yet applied
        self._more: set[int] = set()  # connections cut at READ_BURST: read again soon
        self._stats: dict[str, float] = {
            "network_delay_s": 0.0,
            "tls_handshake_delay_s": 0.0,
            "connections_opened": 0,
            "connections_failed": 0,
            "bytes_sent": 0,
            "bytes_received": 0,
        }

    # -- the world interface (see docs/design.md "The world") -------------------------------

    def start(self, post: Callable[[Event], None]) -> Network:
        """Begin carrying out effects; every outcome is handed to `post` (from our thread)."""
        self._post = post
        self._thread = threading.Thread(target=self._run, name="sim-network", daemon=True)
        self._thread.start()
        return self

    def perform(self, effect: Effect) -> None:
        """Queue a network effect (thread-safe, never blocks). Other effects are ignored."""
        if isinstance(effect, Resolve):  # a table lookup: answer at once, from any thread
            self._post(Resolved(effect.conn_id, self.resolve(effect.host)))
            return
        if not isinstance(effect, OpenConnection | SendData | CloseConnection | Listen | Reset):
            return
        with self._lock:
            self._commands.append(effect)
        self._wake()

    def idle(self) -> bool:
        """Nothing in flight: no command queued, no timer, no connection but listeners
        (a far end that may still speak keeps the host's clock real: A-CLOCK-WARP)."""
        with self._lock:
            if self._commands or self._applying or self._awake:
                return False
        try:
            conns = list(self._conns.values())
        except RuntimeError:  # changed under us by the network thread: busy
            return False
        return not self._timers and not self._more and all(
            c.listener for c in conns
        )

    def set_reading(self, on: bool) -> None:
        """Back-pressure (thread-safe): stop or resume reading open stream connections,
        because the host has not taken what was already received."""
        with self._lock:
            self._reading = on
            self._resume = on
        self._wake()

    def stats(self) -> dict[str, float]:
        """Time the network imposed (latency, handshake time) and traffic, for `--stats`."""
        with self._lock:
            return dict(self._stats)

    def close(self) -> None:
        """Stop the thread and close every socket (no events are posted for them)."""
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for conn in list(self._conns.values()):
            self._drop(conn)
        with contextlib.suppress(OSError):
            self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups --------------------------------------------------------------------------

    def resolve(self, host: str) -> str | None:
        """Simulated DNS: a dotted quad is itself; a name is looked up, case-insensitively."""
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            return self.config.hosts.get(host.lower().rstrip("."))

    def route(self, ip: str, port: int) -> tuple[str, int] | None:
        """Where the simulated address really goes, or None (no route)."""
        real = self._routes.get((ip, port)) or self._routes.get((ip, None))
        if real is not None:
            return real if real[1] else (real[0], port)
        if self.config.loopback_direct and ipaddress.IPv4Address(ip).is_loopback:
            return (ip, port)
        return None

    def listening_address(self, port: int) -> tuple[str, int] | None:
        """The real loopback address of the module's listener on simulated `port`."""
        with self._lock:
            return self._listen_ports.get(port)

    # -- the loop -------------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        while not self._stopping.is_set():
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - self.clock())
            deadlines = [c.deadline for c in self._conns.values() if c.deadline is not None]
            if deadlines:
                dl = max(0.0, min(deadlines) - self.clock())
                timeout = dl if timeout is None else min(timeout, dl)
            if self._more and self._reading:
                timeout = 0.0
            ready = self._sel.select(timeout if timeout is None else min(timeout, 1.0))
            self._awake = True  # not idle until this pass is done (`idle`)
            for key, mask in ready:
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                conn: _Conn = key.data  # registered with its _Conn (the wake socket: None)
                if self._conns.get(conn.conn_id) is not conn:
                    continue
                try:
                    self._on_ready(conn, mask)
                except Exception as exc:  # never let one socket kill the network thread
                    log.exception("network: connection %d failed unexpectedly", conn.conn_id)
                    self._fail(conn, Failure.RESET_BY_PEER, f"internal: {exc}")
            self._run_commands()
            self._run_timers()
            self._run_deadlines()
            self._run_resume()
            self._awake = False

    def _run_resume(self) -> None:
        """After `set_reading(True)`: read again, including what TLS already decrypted
        (it never shows as readable on the socket)."""
        with self._lock:
            resume, self._resume = self._resume, False
        if resume:
            for conn in list(self._conns.values()):
                self._update(conn)
                if self._pausable(conn) and self._conns.get(conn.conn_id) is conn:
                    self._read(conn)
        if self._more and self._reading:
            more, self._more = self._more, set()
            for cid in more:
                still = self._conns.get(cid)
                if still is not None and self._pausable(still):
                    self._read(still)

    def _pausable(self, conn: _Conn) -> bool:
        return (conn.state == "open" and not conn.listener and not conn.closing
                and conn.protocol != Protocol.UDP)

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                effect = self._commands.popleft()
                self._applying += 1
            try:
                self._apply(effect)
            except Exception as exc:
                log.exception("network: %s failed", type(effect).__name__)
                cid = getattr(effect, "conn_id", None)
                if cid is not None:
                    self._post(ConnectionFailed(cid, Failure.TIMEOUT, f"internal: {exc}"))
            finally:
                with self._lock:
                    self._applying -= 1

    def _run_timers(self) -> None:
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            fn()

    def _run_deadlines(self) -> None:
        now = self.clock()
        for conn in list(self._conns.values()):
            if conn.deadline is not None and conn.deadline <= now:
                if conn.state == "draining":
                    self._drop(conn)
                elif conn.state == "handshaking":
                    self._fail(conn, Failure.TIMEOUT, "TLS handshake did not complete")
                else:
                    self._fail(conn, Failure.TIMEOUT, f"connect to {conn.real} timed out")

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        self._at(self.clock() + delay, fn)

    def _at(self, due: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the network thread at monotonic time `due`; equal times run FIFO."""
        heapq.heappush(self._timers, (due, next(self._seq), fn))

    def _account(self, key: str, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._stats[key] += seconds

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def _emit(self, event: Event, delay: float = 0.0) -> None:
        if delay > 0:
            self._account("network_delay_s", delay)
            self._later(delay, lambda: self._post(event))
        else:
            self._post(event)

    # -- effects --------------------------------------------------------------------------

    def _apply(self, effect: Effect) -> None:
        one_way = self.config.latency / 2
        if isinstance(effect, OpenConnection):
            self._open(effect)
        elif isinstance(effect, SendData):
            if one_way:
                self._account("network_delay_s", one_way)
                self._later(one_way, lambda: self._send(effect))
            else:
                self._send(effect)
        elif isinstance(effect, CloseConnection):
            if one_way:
                self._later(one_way, lambda: self._close(effect.conn_id))
            else:
                self._close(effect.conn_id)
        elif isinstance(effect, Listen):
            self._listen(effect)
        elif isinstance(effect, Reset):
            for conn in list(self._conns.values()):
                self._drop(conn)
            self._timers.clear()
            with self._lock:
                self._listen_ports.clear()

    def _open(self, eff: OpenConnection) -> None:
        rtt = self.config.latency
        ip = self.resolve(eff.host)
        if ip is None:
            self._count("connections_failed")
            self._emit(
                ConnectionFailed(eff.conn_id, Failure.DNS_FAILED, f"no DNS entry for {eff.host!r}"),
                rtt,
            )
            return
        tls = None
        if eff.protocol == Protocol.TLS:
            if eff.tls is None:
                self._count("connections_failed")
                self._post(
                    ConnectionFailed(eff.conn_id, Failure.TLS_CONFIG, "TLS without a profile")
                )
                return
            try:
                tls = tlsrules.client_context(eff.tls)
            except TlsConfigError as exc:
                self._count("connections_failed")
                self._post(ConnectionFailed(eff.conn_id, exc.failure, exc.detail))
                return
        real = self.route(ip, eff.port)
        if eff.protocol == Protocol.UDP:
            self._open_udp(eff, ip, real)
            return
        if real is None:
            # A server that never answers: the connect times out (A-NET-NOROUTE).
            self._count("connections_failed")
            wait = self.config.no_route_timeout
            detail = f"no route to {ip}:{eff.port}: no answer in {wait:g} s"
            self._emit(ConnectionFailed(eff.conn_id, Failure.NO_ROUTE, detail), wait)
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = _Conn(eff.conn_id, eff.protocol, sock, (ip, eff.port), real, eff.local_port, tls=tls)
        conn.started = self.clock()
        conn.deadline = conn.started + self.config.connect_timeout
        self._conns[eff.conn_id] = conn
        err = sock.connect_ex(real)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self._connect_error(conn, err)
            return
        self._sel.register(sock, selectors.EVENT_WRITE, conn)

    def _open_udp(self, eff: OpenConnection, ip: str, real: tuple[str, int] | None) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind((LOOPBACK, 0))
        conn = _Conn(
            eff.conn_id, Protocol.UDP, sock, (ip, eff.port), real, eff.local_port, state="open"
        )
        self._conns[eff.conn_id] = conn
        self._sel.register(sock, selectors.EVENT_READ, conn)
        self._count("connections_opened")
        local = eff.local_port or sock.getsockname()[1]
        self._post(ConnectionOpened(eff.conn_id, (ip, eff.port), local))

    def _listen(self, eff: Listen) -> None:
        kind = socket.SOCK_DGRAM if eff.protocol == Protocol.UDP else socket.SOCK_STREAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setblocking(False)
        try:
            sock.bind((LOOPBACK, 0))
            if kind == socket.SOCK_STREAM:
                sock.listen(8)
        except OSError as exc:
            sock.close()
            self._post(ConnectionFailed(eff.conn_id, Failure.REFUSED, f"listen failed: {exc}"))
            return
        conn = _Conn(eff.conn_id, eff.protocol, sock, ("0.0.0.0", 0), None, eff.port, state="open")
        conn.listener = True
        self._conns[eff.conn_id] = conn
        self._sel.register(sock, selectors.EVENT_READ, conn)
        with self._lock:
            self._listen_ports[eff.port] = sock.getsockname()
        self._post(ConnectionOpened(eff.conn_id, ("0.0.0.0", 0), eff.port))

    def _send(self, eff: SendData) -> None:
        conn = self._conns.get(eff.conn_id)
        if conn is None:
            log.debug("network: data for connection %d, which is gone; dropped", eff.conn_id)
            return
        if conn.protocol == Protocol.UDP:
            dest = eff.dest or conn.remote
            ip = self.resolve(dest[0]) or dest[0]
            real = self.route(ip, dest[1])
            if real is None:
                log.info("network: UDP datagram to %s:%d has no route; dropped", ip, dest[1])
                return
            with contextlib.suppress(OSError):
                conn.sock.sendto(eff.data[:UDP_MAX], real)
                self._count("bytes_sent", len(eff.data))
            return
        conn.out += eff.data
        if conn.state == "open":
            self._flush(conn)

    def _close(self, conn_id: int) -> None:
        conn = self._conns.get(conn_id)
        if conn is None:
            return
        if (not conn.out and conn.state in ("connecting", "handshaking")) or conn.listener:
            self._drop(conn)  # aborts a connect in progress, silently
            return
        conn.closing = True  # send what is queued first (0x20 close-after-send), then close
        if conn.protocol == Protocol.UDP:
            self._drop(conn)
        elif conn.state == "open":
            self._flush(conn)

    # -- readiness ------------------------------------------------------------------------

    def _on_ready(self, conn: _Conn, mask: int) -> None:
        if conn.state == "connecting":
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._connect_error(conn, err)
                return
            if conn.tls is not None:
                conn.state = "handshaking"
                conn.sock = conn.tls.wrap(conn.sock)
                self._sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
                self._handshake(conn)
            else:
                self._opened(conn)
            return
        if conn.state == "handshaking":
            self._handshake(conn)
            return
        if conn.listener and conn.protocol != Protocol.UDP:
            self._accept(conn)
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(conn)
        if mask & selectors.EVENT_READ and conn.conn_id in self._conns:
            if not self._reading and self._pausable(conn):
                self._update(conn)  # held since it was registered: stop watching its input
                return
            self._read(conn)

    def _connect_error(self, conn: _Conn, err: int) -> None:
        if err == errno.ECONNREFUSED:
            self._fail(conn, Failure.REFUSED, f"{conn.real}: connection refused (RST)")
        elif err in (errno.ETIMEDOUT,):
            self._fail(conn, Failure.TIMEOUT, f"{conn.real}: connect timed out")
        else:
            self._fail(conn, Failure.NO_ROUTE, f"{conn.real}: {errno.errorcode.get(err, err)}")

    def _handshake(self, conn: _Conn) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._sel.modify(conn.sock, selectors.EVENT_READ, conn)
            return
        except ssl.SSLWantWriteError:
            self._sel.modify(conn.sock, selectors.EVENT_WRITE, conn)
            return
        except (ssl.SSLError, OSError) as exc:
            self._fail(conn, tlsrules.classify(exc), tlsrules.describe(exc))
            return
        if conn.tls is not None:
            try:  # the firmware's checks on a server it did reach (D-TLS-101: CN length)
                tlsrules.check_peer(conn.sock, conn.tls.limits)
            except tlsrules.PeerRejected as exc:
                self._fail(conn, tlsrules.classify(exc), tlsrules.describe(exc))
                return
        self._opened(conn, tls_time=self.config.tls_handshake_time)

    def _opened(self, conn: _Conn, tls_time: float = 0.0) -> None:
        """Report the connection open no sooner than one round trip (+ handshake time) after
        it was asked for; data that arrives meanwhile is reported after it (timers are FIFO)."""
        conn.state = "open"
        conn.deadline = None
        self._count("connections_opened")
        now = self.clock()
        delay = max(0.0, self.config.latency + tls_time - (now - conn.started))
        conn.ready_at = now + delay
        hs = min(delay, tls_time)
        self._account("tls_handshake_delay_s", hs)
        self._account("network_delay_s", delay - hs)
        opened = ConnectionOpened(conn.conn_id, conn.remote, self._local(conn))
        self._at(conn.ready_at, lambda: self._post(opened))
        self._update(conn)
        if conn.out or conn.closing:
            self._flush(conn)

    def _local(self, conn: _Conn) -> int:
        if conn.local_port:
            return conn.local_port
        with contextlib.suppress(OSError):
            return conn.sock.getsockname()[1]
        return 0

    def _flush(self, conn: _Conn) -> None:
        while conn.out:
            try:
                n = conn.sock.send(bytes(conn.out[:16384]))
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
            except ssl.SSLError as exc:
                self._closed(conn, tlsrules.classify(exc), tlsrules.describe(exc))
                return
            except OSError as exc:
                self._closed(conn, Failure.RESET_BY_PEER, f"send failed: {exc.strerror or exc}")
                return
            if n <= 0:
                break
            del conn.out[:n]
            self._count("bytes_sent", n)
        if not conn.out and conn.closing:
            self._drain(conn)
            return
        self._report_backlog(conn)
        self._update(conn)

    def _report_backlog(self, conn: _Conn) -> None:
        """Tell the module when the peer stops taking data and when it takes it all again
        (A-XS-PENDING-TX): 0x44 data waits meanwhile."""
        waiting = bool(conn.out) and conn.state == "open" and not conn.closing
        if waiting != conn.backlogged:
            conn.backlogged = waiting
            self._emit_after_open(conn, SendBacklog(conn.conn_id, waiting), 0.0)

    def _drain(self, conn: _Conn) -> None:
        """Host close with everything sent: half-close and read to EOF before closing, so
        the far end gets every byte (closing with unread input would send an RST)."""
        if conn.state == "draining":
            return
        conn.state = "draining"
        conn.deadline = self.clock() + DRAIN_TIMEOUT
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        self._update(conn)

    def _read(self, conn: _Conn) -> None:
        if conn.closing:  # the host closed it: what still arrives goes nowhere
            while True:
                try:
                    if not conn.sock.recv(RECV_SIZE):
                        break
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    return
                except OSError:
                    break
            self._drop(conn)
            return
        one_way = self.config.latency / 2
        if conn.protocol == Protocol.UDP:
            while True:
                try:
                    data, peer = conn.sock.recvfrom(RECV_SIZE)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                self._count("bytes_received", len(data))
                source = self._reverse.get(peer, peer)
                self._emit(DataReceived(conn.conn_id, data, source), one_way)
        chunks: list[bytes] = []
        got = 0
        failure: tuple[Failure, str] | None = None
        while True:
            try:
                data = conn.sock.recv(RECV_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except ssl.SSLZeroReturnError:
                failure = (Failure.CLOSED_BY_PEER, "TLS close_notify")
                break
            except ssl.SSLError as exc:
                # e.g. TLS 1.3: the server rejects a missing client certificate after the
                # client's side of the handshake finished; it surfaces on the first read.
                failure = (tlsrules.classify(exc), tlsrules.describe(exc))
                break
            except ConnectionResetError:
                failure = (Failure.RESET_BY_PEER, "connection reset by peer")
                break
            except OSError as exc:
                failure = (Failure.RESET_BY_PEER, f"recv failed: {exc.strerror or exc}")
                break
            if not data:
                failure = (Failure.CLOSED_BY_PEER, "remote closed the connection")
                break
            chunks.append(data)
            got += len(data)
            if not self._reading:  # held: the rest waits in the socket (and the far end)
                break
            if got >= READ_BURST:  # post this much first; TLS may hold more already read
                self._more.add(conn.conn_id)
                break
        if chunks:
            data = b"".join(chunks)
            self._count("bytes_received", len(data))
            self._emit_after_open(conn, DataReceived(conn.conn_id, data), one_way)
        if failure is not None:
            self._closed(conn, *failure)

    def _accept(self, listener: _Conn) -> None:
        while True:
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            cid = next(self._accepted_ids)
            conn = _Conn(
                cid, listener.protocol, sock, peer, peer, listener.local_port, state="open"
            )
            self._conns[cid] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)
            self._count("connections_opened")
            self._post(ClientAccepted(listener.conn_id, cid, peer))

    # -- endings --------------------------------------------------------------------------

    def _fail(self, conn: _Conn, failure: Failure, detail: str) -> None:
        """A connection that never opened."""
        self._drop(conn)
        self._count("connections_failed")
        elapsed = self.clock() - conn.started
        self._emit(
            ConnectionFailed(conn.conn_id, failure, detail), max(0.0, self.config.latency - elapsed)
        )

    def _closed(self, conn: _Conn, failure: Failure, detail: str) -> None:
        """A connection that was open and ended from the far side."""
        self._drop(conn)
        closed = ConnectionClosed(conn.conn_id, failure, detail)
        self._emit_after_open(conn, closed, self.config.latency / 2)

    def _emit_after_open(self, conn: _Conn, event: Event, delay: float) -> None:
        """Post `event` after `delay`, but never before the connection's ConnectionOpened."""
        now = self.clock()
        due = max(now + delay, conn.ready_at)
        if due <= now and not self._timers:
            self._post(event)
            return
        self._account("network_delay_s", max(0.0, due - now))
        self._at(due, lambda: self._post(event))

    def _drop(self, conn: _Conn) -> None:
        if self._conns.get(conn.conn_id) is conn:
            del self._conns[conn.conn_id]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._sel.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        if conn.listener:
            with self._lock:
                self._listen_ports.pop(conn.local_port, None)

    def _update(self, conn: _Conn) -> None:
        if self._conns.get(conn.conn_id) is not conn:
            return
        mask = 0 if not self._reading and self._pausable(conn) else selectors.EVENT_READ
        if conn.out:
            mask |= selectors.EVENT_WRITE
        if not mask:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._sel.unregister(conn.sock)
            return
        try:
            self._sel.modify(conn.sock, mask, conn)
        except KeyError:
            with contextlib.suppress(ValueError, OSError):
                self._sel.register(conn.sock, mask, conn)
        except (ValueError, OSError):
            pass
