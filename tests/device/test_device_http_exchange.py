"""The sans-IO HTTP exchange (h11) against a real local server over a real loopback socket."""

from __future__ import annotations

import socket

import pytest

from harness.device.http_exchange import HttpExchange, HttpResult, module_code, parse_url
from harness.servers import HttpServer


def _run(exchange: HttpExchange, address: tuple[str, int], chunk: int = 7) -> None:
    """Drive the exchange over a socket, in deliberately small reads."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(exchange.request_bytes())
        while not exchange.done:
            data = sock.recv(chunk)
            if not data:
                exchange.eof()
                break
            exchange.receive(data)


def test_get_over_a_real_socket_in_small_chunks() -> None:
    with HttpServer(body=b"hello from the far end") as server:
        ex = HttpExchange("GET", parse_url(server.url + "x?y=1"))
        _run(ex, server.address)
        assert ex.complete and ex.error is None
        assert ex.status == 200
        assert ex.body == b"hello from the far end"
        seen = server.requests[0]
        assert seen.path == "/x?y=1"
        assert seen.headers["Host"] == f"127.0.0.1:{server.port}"
        assert seen.headers["Connection"] == "close"


def test_post_sends_its_body_with_a_length() -> None:
    with HttpServer() as server:
        ex = HttpExchange("post", parse_url(server.url), body=b"abc=1")
        _run(ex, server.address, chunk=4096)
        assert ex.status == 200 and ex.body == b"abc=1"
        assert server.requests[0].headers["Content-Length"] == "5"


def test_a_response_cut_off_is_incomplete_not_an_exception() -> None:
    ex = HttpExchange("GET", parse_url("http://example.com/"))
    ex.request_bytes()
    ex.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    ex.eof()
    assert ex.status == 200 and not ex.complete
    assert ex.error is not None and "closed" in ex.error
    result = ex.fill(HttpResult("GET", "http://example.com/", "transparent"))
    assert not result.ok and result.body == b"abc"


def test_garbage_is_a_protocol_error_in_words() -> None:
    ex = HttpExchange("GET", parse_url("http://example.com/"))
    ex.request_bytes()
    assert ex.receive(b"\x7e\x00\x02\x8a\x00\x75 not http\r\n\r\n")
    assert ex.error is not None and ex.error.startswith("bad HTTP response")


def test_close_delimited_body_ends_at_eof() -> None:
    ex = HttpExchange("GET", parse_url("https://google.com/"))
    assert b"Host: google.com\r\n" in ex.request_bytes()
    ex.receive(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
    assert not ex.complete
    ex.eof()
    assert ex.complete and ex.body == b"all of it"


@pytest.mark.parametrize("url", ["ftp://x/", "http:///nohost", "http://h:99999/"])
def test_bad_urls_are_named(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        parse_url(url)


def test_codes_carry_digi_meanings() -> None:
    ci = module_code("ci", 0x26)
    assert ci.meaning == "Connection refused" and str(ci) == "ci=0x26 Connection refused"
    assert module_code("tx_status", 0x86).name == "INVALID_TLS_CONFIGURATION"
    odd = module_code("socket_status", 0x77)
    assert odd.value == 0x77 and odd.meaning == "unknown"
