"""The simulator's PKI is generated once per process and host names (issue 13: 11 RSA keys per
rig were the largest CPU cost of a fast-simulator run starting four rigs)."""

from __future__ import annotations

from harness.servers.pki import FILES, Pki


def test_a_second_pki_is_the_first_written_again(tmp_path):
    a = Pki.create(tmp_path / "a")
    b = Pki.create(tmp_path / "b")
    assert b.dir != a.dir
    assert all(a.read(name) == b.read(name) for name in FILES)
    assert (b.dir / FILES["client_key"]).stat().st_mode & 0o777 == 0o600


def test_fresh_and_other_host_names_generate_anew(tmp_path):
    a = Pki.create(tmp_path / "a")
    fresh = Pki.create(tmp_path / "fresh", fresh=True)
    other = Pki.create(tmp_path / "other", hostnames=("example.test",))
    assert fresh.read("root_ca") != a.read("root_ca")
    assert other.read("server_cert") != a.read("server_cert")
    assert other.hostnames == ("example.test",)
