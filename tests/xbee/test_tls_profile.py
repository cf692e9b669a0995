"""The $n profile string and Digi's path rules (harness.xbee.tls; reference §5.2)."""

from __future__ import annotations

import pytest

from harness.xbee import tls


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (";;", ("", "", "")),  # D-TLS default
        ("wgc.crt;;", ("wgc.crt", "", "")),  # the forum's setting (F-HTTPS)
        ("ca.pem;client.crt;client.key", ("ca.pem", "client.crt", "client.key")),
        (";client.crt;client.key", ("", "client.crt", "client.key")),
        ("root.crt", ("root.crt", "", "")),  # A-TLS-FIELDS: missing trailing fields are empty
        ("", ("", "", "")),
    ],
)
def test_parse_profile_fields(text: str, fields: tuple[str, str, str]) -> None:
    profile = tls.TlsProfile.parse(text)
    assert (profile.ca, profile.cert, profile.key) == fields


def test_format_always_has_two_separators() -> None:
    assert tls.TlsProfile().format() == tls.DEFAULT_PROFILE == ";;"
    assert tls.TlsProfile.parse("root.crt").format() == "root.crt;;"
    assert tls.TlsProfile.parse("a;b;c").format() == "a;b;c"


def test_too_many_fields_is_a_clear_error() -> None:
    with pytest.raises(tls.ProfileError, match=r"4 fields.*ca;cert;key"):
        tls.TlsProfile.parse("a;b;c;d")


def test_authenticated_only_with_a_ca() -> None:
    assert not tls.TlsProfile.parse(";;").authenticated
    assert not tls.TlsProfile.parse(";c;k").authenticated
    assert tls.TlsProfile.parse("ca;;").authenticated


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("wgc.crt", "/flash/cert/wgc.crt"),  # plain name: in certs/ (D-TLS p.100)
        ("../server.pem", "/flash/server.pem"),  # D-TLS: "../server.pem" …
        ("/flash/server.pem", "/flash/server.pem"),  # … "or /flash/server.pem": the same file
        ("cert/wgc.crt", "/flash/cert/cert/wgc.crt"),
        ("/flash/cert/wgc.crt", "/flash/cert/wgc.crt"),
        ("flash/cert/wgc.crt", "/flash/cert/flash/cert/wgc.crt"),  # A-TLS-RELPATH (forum)
        ("./a/../b.crt", "/flash/cert/b.crt"),
    ],
)
def test_resolve_follows_digi_rules(name: str, path: str) -> None:
    assert tls.resolve(name) == path


@pytest.mark.parametrize("name", ["/etc/passwd", "../../x.crt", "/flashy/x"])
def test_resolve_refuses_paths_outside_flash(name: str) -> None:
    with pytest.raises(tls.ProfileError, match="outside"):
        tls.resolve(name)


def test_resolve_refuses_overlong_path_and_bad_names() -> None:
    with pytest.raises(tls.ProfileError, match="255"):
        tls.resolve("/".join(["a" * 60] * 5))
    with pytest.raises(tls.ProfileError, match="longer than 64"):
        tls.resolve("a" * 300)
    with pytest.raises(tls.ProfileError, match=r"bad name\.crt"):
        tls.resolve("bad name.crt")


def test_profile_paths_resolve_each_field() -> None:
    assert tls.TlsProfile.parse("wgc.crt;;../k.key").paths() == (
        "/flash/cert/wgc.crt",
        None,
        "/flash/k.key",
    )


def test_tl_table_round_trips_and_3_is_tls12() -> None:
    assert tls.tl_version(3) == "TLSv1.2"  # F-AZ
    assert tls.tl_version(tls.TL_DEFAULT) == "TLSv1.2"
    for value, name in tls.TL_VERSIONS.items():
        assert tls.tl_value(name) == value
    assert tls.tl_value("TLSv1_2") == 3
    with pytest.raises(tls.ProfileError, match="TL=9"):
        tls.tl_version(9)
