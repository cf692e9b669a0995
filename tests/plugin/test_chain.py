"""The server's chain fetched from the bench host (issue 9, observation 8): a real loopback
HTTPS server with a real chain (root -> intermediate -> leaf), split with `cryptography`, so
`leaf-as-ca` and `intermediate-as-ca` have their files on a bench."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography import x509

from harness import chain
from harness.profiles import load_profile
from harness.pytest_plugin.devices import _hardware_files
from harness.servers import HttpsServer, Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: Pki):
    with HttpsServer(pki) as srv:  # presents leaf + intermediate, as google.com does
        yield srv


def _cert(pki: Pki, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.read(name))


def test_fetch_splits_the_presented_chain_into_leaf_and_intermediate(pki, server) -> None:
    got = chain.fetch(*server.address, server_name="google.com")
    assert got.leaf == _cert(pki, "server_cert")
    assert got.intermediate == _cert(pki, "intermediate_ca")  # not only the leaf (3.11 ssl)
    assert got.root is None  # the server does not send its root
    assert got.pem("leaf") == _cert(pki, "server_cert").public_bytes(chain.Encoding.PEM)


def test_classify_finds_the_intermediate_wherever_the_root_is(pki) -> None:
    leaf, inter, root = (_cert(pki, n) for n in ("server_cert", "intermediate_ca", "root_ca"))
    assert chain.self_signed(root) and not chain.self_signed(inter)
    got = chain.classify([leaf, root, inter])
    assert (got.leaf, got.intermediate, got.root) == (leaf, inter, root)
    with pytest.raises(chain.ChainError, match="no certificate"):
        chain.classify([])


def test_a_target_that_does_not_answer_is_one_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(chain.ChainError) as caught:
        chain.fetch("127.0.0.1", port, timeout=2)
    assert str(caught.value).startswith(f"cannot fetch the certificate chain of 127.0.0.1:{port}")
    assert "\n" not in str(caught.value)


def _bench_profile(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(
        "name: bench\ntargets:\n  https:\n"
        f"    url: {url}\n{extra}"
        "tls_variants: [no-ca, leaf-as-ca, intermediate-as-ca]\n",
        encoding="utf-8",
    )
    return path


def test_a_bench_gets_the_servers_leaf_and_intermediate_from_the_target(
    tmp_path: Path, pki: Pki, server
) -> None:
    """Before: "needs server_cert: the local PKI (simulator only)" on every bench."""
    profile = load_profile(_bench_profile(tmp_path, server.url))
    files, missing = _hardware_files(profile, tmp_path, profile.tls_variants)
    assert missing == {}
    assert x509.load_pem_x509_certificate(files["server_cert"]) == _cert(pki, "server_cert")
    assert x509.load_pem_x509_certificate(files["intermediate_ca"]) == _cert(pki, "intermediate_ca")


def test_files_the_profile_names_win_over_the_fetch(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "leaf.pem").write_bytes(pki.read("server_cert"))
    (tmp_path / "certs" / "inter.pem").write_bytes(pki.read("intermediate_ca"))
    extra = "    leaf: certs/leaf.pem\n    intermediate: certs/inter.pem\n"
    # a URL nothing answers: the files are used, no connection is tried
    profile = load_profile(_bench_profile(tmp_path, "https://127.0.0.1:9/", extra))
    files, missing = _hardware_files(profile, tmp_path, profile.tls_variants)
    assert missing == {}
    assert files["server_cert"] == pki.read("server_cert")
    assert files["intermediate_ca"] == pki.read("intermediate_ca")


def test_a_failed_fetch_is_the_variants_skip_reason(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    profile = load_profile(_bench_profile(tmp_path, f"https://127.0.0.1:{port}/"))
    files, missing = _hardware_files(profile, tmp_path, profile.tls_variants)
    assert files["server_cert"] is None
    assert missing["server_cert"].startswith("cannot fetch the certificate chain of 127.0.0.1")
