"""The `/flash` store on a host folder: `FlashFS(root=DIR)` (D-FS rules from `core.flash`).

`DIR/cert/x` is `/flash/cert/x`, so a flash image survives simulated resets and new
simulator runs, and a test can look at (or drop in) files with ordinary tools. A secure file
is stored as `name#` (`SECURE_SUFFIX`). Host entries whose names Digi would refuse are not
shown. `FlashFS()` without a root keeps files in memory, like `core.flash.Flash`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from harness.sim.core.flash import SECURE_SUFFIX, VOLUME_BYTES, Flash, FsError, Reason
from harness.xbee import fspath
from harness.xbee.fspath import PathError

log = logging.getLogger(__name__)

__all__ = ["FlashFS"]


class FlashFS(Flash):
    """`/flash` in the host folder `root` (made if missing), or in memory without one."""

    def __init__(self, root: Path | str | None = None, *, volume_bytes: int = VOLUME_BYTES):
        self.root = Path(root) if root is not None else None
        super().__init__(_DirStore(self.root, volume_bytes) if self.root is not None else None,
                         volume_bytes=volume_bytes)


def _module_path(parts: tuple[str, ...]) -> str:
    return fspath.join([fspath.FLASH_NAME, *parts])


@contextlib.contextmanager
def _host_errors(parts: tuple[str, ...]):
    """A host OSError as the module's error (A-FS-HOST-ODD): never a crash of the simulator."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
            reason = Reason.NOT_FOUND
        elif exc.errno == errno.ENOSPC:
            reason = Reason.FULL
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EEXIST):
            reason = Reason.DENIED
        else:
            reason = Reason.IO
        raise FsError(reason, _module_path(parts), f"flash folder: {exc.strerror}") from None


class _DirStore:
    """A host folder; `root/a/b` is `/flash/a/b`, a secure file `name` is `root/…/name#`.

    The folder never reaches outside itself (issue 10, A-FS-HOST-ODD): links are never
    followed (every folder on the way is `lstat`ed, files open with O_NOFOLLOW), and only
    real directories and regular files no larger than the volume are entries of the module's
    file system; anything else (links, fifos, sockets, devices, huge files) is not shown,
    and its name cannot be created over. Reads seek to their chunk.
    """

    def __init__(self, root: Path, max_file: int) -> None:
        self.root = root
        self.max_file = max_file
        root.mkdir(parents=True, exist_ok=True)

    def _usable(self, st: os.stat_result) -> bool:
        return stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode)
                                            and st.st_size <= self.max_file)

    def _dir(self, parts: tuple[str, ...]) -> Path:
        """The host folder of `parts`, each step a real directory (no link followed)."""
        path = self.root
        for p in parts:
            path = path / p
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise FsError(Reason.NOT_FOUND, _module_path(parts), "not a directory")
        return path

    def _host(self, parts: tuple[str, ...]) -> Path:
        return self._dir(parts[:-1]) / parts[-1]

    @staticmethod
    def _lstat(path: Path) -> os.stat_result | None:
        try:
            return os.lstat(path)
        except FileNotFoundError:
            return None

    def _file(self, parts: tuple[str, ...]) -> Path:
        plain = self._host(parts)
        for cand in (plain, plain.with_name(plain.name + SECURE_SUFFIX)):
            st = self._lstat(cand)
            if st is not None and stat.S_ISREG(st.st_mode) and self._usable(st):
                return cand
        raise FsError(Reason.NOT_FOUND, _module_path(parts), "no regular file")

    def _free_name(self, path: Path, parts: tuple[str, ...], *, file_ok: bool) -> None:
        """Refuse to create over a host entry the module does not show (a link, a fifo…)."""
        st = self._lstat(path)
        if st is not None and not (file_ok and stat.S_ISREG(st.st_mode) and self._usable(st)):
            raise FsError(Reason.DENIED, _module_path(parts),
                          "the flash folder holds an entry of that name that is not a file")

    def _open(self, parts: tuple[str, ...], flags: int) -> int:
        """A descriptor on a regular file of the volume: O_NOFOLLOW, and O_NONBLOCK so a fifo
        swapped in meanwhile cannot block the open."""
        fd = os.open(self._file(parts), flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) and self._usable(st)):
            os.close(fd)
            raise FsError(Reason.NOT_FOUND, _module_path(parts), "no regular file")
        return fd

    def entries(self, parts: tuple[str, ...]) -> list[tuple[str, bool, int, bool]]:
        out = []
        with _host_errors(parts):
            folder = self._dir(parts)
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
            base = len(_module_path(parts))
            for child in children:
                name, secure = child.name, False
                st = child.stat(follow_symlinks=False)
                if not self._usable(st):
                    log.debug("flash folder: ignoring %s (not a directory or a regular file "
                              "that fits the volume)", child.path)
                    continue
                is_dir = stat.S_ISDIR(st.st_mode)
                if name.endswith(SECURE_SUFFIX) and not is_dir:
                    name, secure = name[: -len(SECURE_SUFFIX)], True
                try:
                    if fspath.clean_name(name) != name:
                        raise PathError(name, "trailing period", "name")
                except PathError:
                    log.debug("flash folder: ignoring %s (not a valid module name)", child.path)
                    continue
                if base + 1 + len(name) > fspath.MAX_PATH:
                    continue  # D-FS: no module path is longer (bounds the walk's depth)
                out.append((name, is_dir, 0 if is_dir else st.st_size, secure))
        return out

    def read(self, parts: tuple[str, ...]) -> bytes:
        return self.read_at(parts, 0, self.max_file)

    def read_at(self, parts: tuple[str, ...], offset: int, size: int) -> bytes:
        """`size` bytes from `offset`: a seek and a read of the chunk, not of the file."""
        with _host_errors(parts):
            fd = self._open(parts, os.O_RDONLY)
            try:
                os.lseek(fd, offset, os.SEEK_SET)
                out = bytearray()
                while len(out) < size:
                    got = os.read(fd, size - len(out))
                    if not got:
                        break
                    out += got
                return bytes(out)
            finally:
                os.close(fd)

    def write(self, parts: tuple[str, ...], data: bytes, secure: bool) -> None:
        with _host_errors(parts):
            plain = self._host(parts)
            target = plain.with_name(plain.name + SECURE_SUFFIX) if secure else plain
            other = plain if secure else plain.with_name(plain.name + SECURE_SUFFIX)
            self._free_name(target, parts, file_ok=True)
            self._free_name(other, parts, file_ok=True)
            # a fresh temporary (O_EXCL): never a link someone left under a guessable name
            fd, tmp = tempfile.mkstemp(dir=plain.parent, prefix=plain.name + ".",
                                       suffix=".tmp~")  # not a Digi name: never listed
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            other.unlink(missing_ok=True)

    def write_at(self, parts: tuple[str, ...], offset: int, data: bytes) -> None:
        with _host_errors(parts):
            fd = self._open(parts, os.O_WRONLY)
            try:
                os.lseek(fd, offset, os.SEEK_SET)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)

    def mkdir(self, parts: tuple[str, ...]) -> None:
        with _host_errors(parts):
            host = self._host(parts)
            self._free_name(host, parts, file_ok=False)
            host.mkdir()

    def remove(self, parts: tuple[str, ...]) -> None:
        with _host_errors(parts):
            host = self._host(parts)
            st = self._lstat(host)
            if st is not None and stat.S_ISDIR(st.st_mode):
                host.rmdir()
            else:
                self._file(parts).unlink()

    def rename(self, src: tuple[str, ...], dst: tuple[str, ...]) -> None:
        with _host_errors(src):
            host = self._host(src)
            new = self._host(dst)
            st = self._lstat(host)
            if st is not None and stat.S_ISDIR(st.st_mode):
                self._free_name(new, dst, file_ok=False)
                os.replace(host, new)
                return
            old = self._file(src)
            suffix = SECURE_SUFFIX if old.name.endswith(SECURE_SUFFIX) else ""
            dest = new.with_name(new.name + suffix)
            self._free_name(dest, dst, file_ok=True)
            os.replace(old, dest)

    def wipe(self) -> None:
        with _host_errors(()), os.scandir(self.root) as it:
            for child in it:
                if child.is_dir(follow_symlinks=False):
                    shutil.rmtree(child.path)
                else:
                    os.unlink(child.path)


# ----- the file system ---------------------------------------------------------------------


