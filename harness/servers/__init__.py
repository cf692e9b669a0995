"""The simulator's internet: a throwaway PKI and local servers on 127.0.0.1.

`pki` makes, with `cryptography`, the chain the forum thread met (F-HTTPS) and the files the
TLS variants upload; `http` has the HTTP and HTTPS servers, `echo` the TCP and UDP echoes,
`openssl` runs `openssl s_server -www`, a TLS server nobody here wrote. Servers run in
threads on ephemeral ports, are context managers, and record what they saw (requests,
handshakes with the SNI the client sent) so tests can assert on the far end.
"""

from harness.servers.echo import TcpEchoServer, UdpEchoServer
from harness.servers.http import (
    DEFAULT_BODY,
    HANDSHAKE_TIMEOUT,
    IDLE_TIMEOUT,
    LOOPBACK,
    Handshake,
    HttpServer,
    HttpsServer,
    Request,
)
from harness.servers.openssl import (
    OPENSSL_START_TIMEOUT,
    OpenSslServer,
    openssl_path,
    openssl_skip_reason,
    skip_unless_openssl,
)
from harness.servers.pki import (
    DEFAULT_SERVER_CIPHERS,
    ECDHE_ONLY,
    ENCRYPTED_KEY_PASSWORD,
    FILES,
    KEY_BITS,
    LONG_CN,
    SERVER_NAMES,
    VALID_DAYS,
    Pki,
)

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SERVER_CIPHERS",
    "ECDHE_ONLY",
    "ENCRYPTED_KEY_PASSWORD",
    "FILES",
    "HANDSHAKE_TIMEOUT",
    "IDLE_TIMEOUT",
    "KEY_BITS",
    "LONG_CN",
    "LOOPBACK",
    "OPENSSL_START_TIMEOUT",
    "SERVER_NAMES",
    "VALID_DAYS",
    "Handshake",
    "HttpServer",
    "HttpsServer",
    "OpenSslServer",
    "Pki",
    "Request",
    "TcpEchoServer",
    "UdpEchoServer",
    "openssl_path",
    "openssl_skip_reason",
    "skip_unless_openssl",
]
