"""The simulated /flash: Digi's path rules (D-FS), secure files, hash, volume, host folder."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.sim.core.flash import FsError, Reason
from harness.sim.host.flashfs import FlashFS
from harness.xbee import fspath
from harness.xbee.fspath import PathError


@pytest.fixture(params=["memory", "folder"])
def fs(request, tmp_path) -> FlashFS:
    return FlashFS() if request.param == "memory" else FlashFS(root=tmp_path / "flash")


# ----- path rules (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cwd", "want"),
    [
        ("cert/a.pem", "/flash", "/flash/cert/a.pem"),
        ("a.pem", "/flash/cert", "/flash/cert/a.pem"),
        ("../server.pem", "/flash/cert", "/flash/server.pem"),  # D-TLS p.100 example
        ("/flash/server.pem", "/flash/cert", "/flash/server.pem"),
        ("./x/./y", "/flash", "/flash/x/y"),
        ("/FLASH/Cert/A.PEM", "/flash", "/flash/Cert/A.PEM"),  # case kept, /flash normalised
        ("name.", "/flash", "/flash/name"),  # D-FS: a trailing period is ignored
        ("..", "/flash", "/"),
        ("../..", "/flash", "/"),
        ("flash/cert/x", "/", "/flash/cert/x"),
    ],
)
def test_resolve(path, cwd, want):
    assert fspath.resolve(path, cwd) == want


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/etc/passwd", "outside"),  # D-FS: absolute paths must start with /flash
        ("/flashy/x", "outside"),
        ("a b", "name"),
        ("a*b", "name"),
        ("x" * 65, "name"),  # D-FS: names ≤ 64 characters
        ("...", "name"),
        ("", "name"),
        ("/flash/" + "/".join(["d" * 60] * 5), "length"),  # D-FS: full path ≤ 255
    ],
)
def test_resolve_refuses(path, kind):
    with pytest.raises(PathError) as err:
        fspath.resolve(path)
    assert err.value.kind == kind
    assert repr(path)[:10] in str(err.value)  # names the path


@settings(deadline=None)  # no per-example time limit: CI hosts are loaded
@given(st.lists(st.sampled_from(["a", "B.c", "..", ".", "d-e_f", "x."]), max_size=8))
def test_resolve_always_lands_in_root_or_flash(parts):
    try:
        out = fspath.resolve("/".join(parts) or ".", "/flash/cert")
    except PathError as err:  # e.g. ../../a is /a: outside /flash (D-FS)
        assert err.kind == "outside"
        return
    assert out == "/" or out == "/flash" or out.startswith("/flash/")
    assert "/./" not in out + "/" and "/../" not in out + "/"
    assert fspath.resolve(out) == out  # idempotent


def test_64_character_names_are_fine():
    assert fspath.resolve("n" * 64).endswith("/" + "n" * 64)


# ----- the file system ----------------------------------------------------------------------


def test_fresh_volume_has_cert_and_lib(fs):
    assert [(e.name, e.is_dir) for e in fs.listdir("/flash")] == [("cert", True), ("lib", True)]
    assert fs.listdir("/") [0].path == "/flash"
    assert fs.info().total == 1024 * 1024 and fs.info().used == 0


def test_write_read_hash_case_insensitive(fs):
    data = b"-----BEGIN CERTIFICATE-----\n" * 10
    assert fs.write("cert/Ca.PEM", data) == "/flash/cert/Ca.PEM"
    assert fs.read("/FLASH/CERT/ca.pem") == data
    assert fs.read("ca.pem.", cwd="/flash/cert") == data
    assert fs.hash("cert/ca.pem") == hashlib.sha256(data).digest()
    # a second write keeps the first spelling and replaces the bytes
    fs.write("CERT/CA.pem", b"new")
    [entry] = fs.listdir("cert")
    assert (entry.name, entry.size) == ("Ca.PEM", 3)
    assert fs.info().used == 3


def test_secure_files_are_write_only_except_to_the_module(fs):
    key = b"-----BEGIN RSA PRIVATE KEY-----\nsecret\n"
    fs.write("cert/client.key", key, secure=True)
    with pytest.raises(FsError) as err:
        fs.read("cert/client.key")
    assert err.value.reason is Reason.DENIED and err.value.status == 0x50  # D-BB access denied
    assert err.value.atfs_line.startswith("EACCES ")
    assert "secret" not in str(err.value)
    assert fs.read_privileged("client.key") == key  # relative to /flash/cert, like $0
    assert fs.hash("cert/client.key") == hashlib.sha256(key).digest()
    [entry] = fs.listdir("cert")
    assert entry.secure
    fs.write("cert/client.key", b"plain")  # a plain PUT over it makes it readable
    assert fs.read("cert/client.key") == b"plain" and not fs.stat("cert/client.key").secure


@pytest.mark.parametrize(
    ("op", "reason", "status"),
    [
        (lambda fs: fs.read("cert/none"), Reason.NOT_FOUND, 0x52),
        (lambda fs: fs.read("cert"), Reason.IS_DIR, 0x54),
        (lambda fs: fs.mkdir("cert"), Reason.EXISTS, 0x51),
        (lambda fs: fs.write("/nothere/x", b""), Reason.DENIED, 0x50),
        (lambda fs: fs.write("/x", b""), Reason.DENIED, 0x50),
        (lambda fs: fs.write("cert/bad name", b""), Reason.BAD_NAME, 0x53),
        (lambda fs: fs.write("nodir/x", b""), Reason.NOT_FOUND, 0x52),
        (lambda fs: fs.remove("/flash"), Reason.DENIED, 0x50),
        (lambda fs: fs.read_at("cert/f", 5, 1), Reason.PAST_EOF, 0x56),
    ],
)
def test_errors_carry_digi_status_and_atfs_line(fs, op, reason, status):
    fs.write("cert/f", b"abc")
    with pytest.raises(FsError) as err:
        op(fs)
    assert err.value.reason is reason and err.value.status == status
    assert err.value.atfs_line.split(" ", 1)[0].startswith("E")  # D-FSCMD error shape


def test_remove_needs_empty_directory(fs):
    fs.mkdir("lib/pkg")
    fs.write("lib/pkg/m.py", b"x")
    with pytest.raises(FsError) as err:
        fs.remove("lib/pkg")
    assert err.value.reason is Reason.NOT_EMPTY
    fs.remove("lib/pkg/m.py")
    fs.remove("lib/pkg")
    assert not fs.exists("lib/pkg")


def test_rename_moves_and_replaces(fs):
    fs.write("cert/a", b"A")
    fs.write("cert/b", b"B", secure=True)
    assert fs.rename("cert/a", "cert/b") == "/flash/cert/b"
    assert fs.read("cert/b") == b"A" and not fs.exists("cert/a")
    fs.rename("cert/b", "/flash/moved")
    assert fs.read("moved") == b"A"
    fs.mkdir("d")
    with pytest.raises(FsError):
        fs.rename("d", "d/inside")


def test_volume_full(fs):
    small = FlashFS(fs.root, volume_bytes=100) if fs.root else FlashFS(volume_bytes=100)
    small.write("cert/a", b"x" * 60)
    with pytest.raises(FsError) as err:
        small.write("cert/b", b"x" * 41)
    assert err.value.reason is Reason.FULL and err.value.status == 0x59
    small.write("cert/a", b"x" * 100)  # replacing frees the old bytes first
    assert small.info().free == 0


def test_write_at_and_read_at(fs):
    fs.create("cert/f")
    assert fs.write_at("cert/f", 0, b"hello") == 5
    assert fs.write_at("cert/f", 3, b"p!") == 5
    assert fs.read_at("cert/f", 1, 10) == b"elp!"
    with pytest.raises(FsError) as err:
        fs.create("cert/f", exclusive=True)
    assert err.value.reason is Reason.EXISTS
    fs.create("cert/f", truncate=True)
    assert fs.read("cert/f") == b""


def test_format_wipes_and_restores_layout(fs):
    fs.write("cert/a", b"a")
    fs.mkdir("extra")
    fs.format()
    assert [e.name for e in fs.listdir("/flash")] == ["cert", "lib"]
    assert fs.info().used == 0


def test_folder_layout_and_persistence(tmp_path):
    root = tmp_path / "flash"
    fs = FlashFS(root=root)
    fs.write("cert/ca.pem", b"CA")
    fs.write("cert/client.key", b"KEY", secure=True)
    fs.mkdir("lib/mod")
    assert (root / "cert" / "ca.pem").read_bytes() == b"CA"  # DIR/cert/x is /flash/cert/x
    assert (root / "cert" / "client.key#").read_bytes() == b"KEY"  # secure mark on the host
    assert (root / "lib" / "mod").is_dir()
    again = FlashFS(root=root)  # a new simulator on the same folder
    assert again.read("cert/ca.pem") == b"CA"
    assert again.stat("cert/client.key").secure
    assert again.read_privileged("client.key") == b"KEY"


def test_folder_files_dropped_in_by_hand_are_seen_and_bad_names_hidden(tmp_path):
    root = tmp_path / "flash"
    fs = FlashFS(root=root)
    (root / "cert" / "Server.PEM").write_bytes(b"S")
    (root / "cert" / "has space.pem").write_bytes(b"x")
    (root / "cert" / "key.pem#").write_bytes(b"K")
    names = {(e.name, e.secure) for e in fs.listdir("cert")}
    assert names == {("Server.PEM", False), ("key.pem", True)}
    assert fs.read("cert/server.pem") == b"S"
    fs.remove("cert/key.pem")
    assert not (root / "cert" / "key.pem#").exists()
