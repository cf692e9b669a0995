"""The host-side faults' servers really fail the way their names say (harness/servers/faulty.py):
real loopback sockets, met by a plain socket client, and the command that serves them."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from harness.servers.faulty import PARTIAL_BODY, ClosedPort, ResetServer, SlowServer

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_closed_port_refuses():
    with ClosedPort() as down, pytest.raises(ConnectionRefusedError):
        socket.create_connection((down.host, down.port), timeout=5)


def test_reset_server_sends_part_then_resets():
    with ResetServer() as srv, socket.create_connection((srv.host, srv.port), timeout=5) as c:
        c.sendall(REQUEST)
        got = b""
        with pytest.raises(ConnectionResetError):
            while chunk := c.recv(4096):
                got += chunk
        assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(PARTIAL_BODY), got
        head, _, body = got.partition(b"\r\n\r\n")
        assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > len(body)
        assert srv.requests == 1


def test_slow_server_answers_only_after_its_delay():
    with SlowServer(delay=1.0) as srv, socket.create_connection((srv.host, srv.port)) as c:
        c.sendall(REQUEST)
        c.settimeout(0.3)
        with pytest.raises(TimeoutError):
            c.recv(100)
        c.settimeout(5)
        start = time.monotonic()
        assert c.recv(100).startswith(b"HTTP/1.1 200 OK")
        assert time.monotonic() - start > 0.3


def test_the_command_serves_all_three():
    proc = subprocess.Popen([sys.executable, "-m", "harness.servers.faulty", "--delay", "1"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        names = [line.split(":", 1)[0] for line in lines]
        assert names == ["server-down", "server-reset", "slow-server"], lines
        port = int(lines[0].rsplit(":", 1)[1])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_command_refuses_bad_ports_in_one_line():
    done = subprocess.run([sys.executable, "-m", "harness.servers.faulty", "--ports", "1,x"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "three port numbers" in done.stderr and "Traceback" not in done.stderr
