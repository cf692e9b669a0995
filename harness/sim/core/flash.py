"""The simulated module's `/flash` file system (reference §6.1, D-FS): the rules, in memory.

`Flash()` keeps files in memory; the host's `harness.sim.host.flashfs.FlashFS(root=DIR)`
puts the same rules over a host folder (a `Store`), so a flash image survives simulated
resets and new simulator runs. A secure file (ATFS XPUT, 0x3B SECURE) is marked with
`SECURE_SUFFIX` in a folder — `#` is the mark xbee-python reads in `ATFS LS`
(L-PY `_SECURE_ELEMENT_SUFFIX`) and cannot occur in a Digi name.

Secure files are write-only to the host: `read` refuses them (0x3B "upload a write-only file
(one that cannot be downloaded or viewed)", D-3B) while `read_privileged` is how the module's
own TLS stack gets at a key. Errors are `FsError`, carrying both faces of a Digi error: the
0xBB status (D-BB) and the ATFS `E…` line (D-FSCMD; texts are ours, A-ATFS-ERRORS).
"""

from __future__ import annotations

import enum
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.xbee import codes, fspath
from harness.xbee.fspath import PathError

log = logging.getLogger(__name__)

# D-FS: "internal 1 MB SPI flash". How much of it a volume reports, and whether files cost
# more than their bytes, is not documented: ASSUMPTION A-FS-VOLUME (docs/assumptions.md).
VOLUME_BYTES = 1024 * 1024
SECURE_SUFFIX = "#"  # host-folder mark of a secure file; ATFS LS shows it too (L-PY)


def _bb(name: str) -> int:
    """A 0xBB status by its name in `codes.FS_STATUS` (D-BB), so the numbers live once."""
    for code in codes.FS_STATUS.values():
        if code.name == name:
            return code.value
    raise KeyError(name)


class Reason(enum.Enum):
    """Why an operation failed: (0xBB status (D-BB), ATFS error code, ATFS text).

    The ATFS codes follow D-FSCMD's shape ("a capital E, followed by one or more uppercase
    letters and digits, a space, and a description"); the codes and texts themselves are
    UNVERIFIED: we use the POSIX errno names MicroPython on the module also uses
    (ASSUMPTION A-ATFS-ERRORS).
    """

    NOT_FOUND = (_bb("DOES_NOT_EXIST"), "ENOENT", "does not exist")  # U-XB3T (A-ATFS-ERRORS)
    EXISTS = (_bb("ALREADY_EXISTS"), "EEXIST", "File exists")
    DENIED = (_bb("ACCESS_DENIED"), "EACCES", "Permission denied")
    BAD_NAME = (_bb("INVALID_NAME"), "EINVAL", "Invalid name")
    IS_DIR = (_bb("IS_DIRECTORY"), "EISDIR", "Is a directory")
    NOT_DIR = (_bb("INVALID_PARAMETER"), "ENOTDIR", "Not a directory")
    NOT_EMPTY = (_bb("DIR_NOT_EMPTY"), "ENOTEMPTY", "Directory not empty")
    PAST_EOF = (_bb("EOF_REACHED"), "EINVAL", "Read past end of file")
    FULL = (_bb("VOLUME_FULL"), "ENOSPC", "No space left on device")
    BUSY = (_bb("ERROR"), "EBUSY", "Current directory")
    BAD_PARAM = (_bb("INVALID_PARAMETER"), "EINVAL", "Invalid argument")
    IO = (_bb("HW_FAILURE"), "EIO", "I/O error")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def ecode(self) -> str:
        return self.value[1]

    @property
    def text(self) -> str:
        return self.value[2]


class FsError(Exception):
    """A refused file-system operation, naming the path; `.status` is the 0xBB status."""

    def __init__(self, reason: Reason, path: str, detail: str = "") -> None:
        self.reason = reason
        self.path = path
        self.detail = detail
        super().__init__(f"{path}: {detail or reason.text}")

    @property
    def status(self) -> int:
        return self.reason.status

    @property
    def atfs_line(self) -> str:
        """The command-mode error line, e.g. `ENOENT does not exist` (D-FSCMD, U-XB3T)."""
        return f"{self.reason.ecode} {self.reason.text}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry as the module shows it."""

    name: str
    path: str
    is_dir: bool
    size: int = 0
    secure: bool = False


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    used: int
    free: int
    bad: int
    total: int


# ----- storage back ends: actual-case components below /flash ------------------------------


class Store(Protocol):
    """Where the bytes live: `parts` are the components below /flash, in their actual case.
    Errors are `FsError`."""

    def entries(self, parts: tuple[str, ...]) -> list[tuple[str, bool, int, bool]]: ...
    def read(self, parts: tuple[str, ...]) -> bytes: ...
    def read_at(self, parts: tuple[str, ...], offset: int, size: int) -> bytes: ...
    def write(self, parts: tuple[str, ...], data: bytes, secure: bool) -> None: ...
    def write_at(self, parts: tuple[str, ...], offset: int, data: bytes) -> None: ...
    def mkdir(self, parts: tuple[str, ...]) -> None: ...
    def remove(self, parts: tuple[str, ...]) -> None: ...
    def rename(self, src: tuple[str, ...], dst: tuple[str, ...]) -> None: ...
    def wipe(self) -> None: ...


class _MemoryStore:
    """A nested dict: a directory maps names to dicts; a file is a [bytearray, secure] pair."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}  # nested: values are dicts or [bytearray, secure]

    def _node(self, parts: tuple[str, ...]) -> Any:
        node = self.tree
        for p in parts:
            node = node[p]
        return node

    def entries(self, parts: tuple[str, ...]) -> list[tuple[str, bool, int, bool]]:
        out = []
        for name, node in self._node(parts).items():
            if isinstance(node, dict):
                out.append((name, True, 0, False))
            else:
                out.append((name, False, len(node[0]), node[1]))
        return out

    def read(self, parts: tuple[str, ...]) -> bytes:
        return bytes(self._node(parts)[0])

    def read_at(self, parts: tuple[str, ...], offset: int, size: int) -> bytes:
        return bytes(self._node(parts)[0][offset : offset + size])

    def write(self, parts: tuple[str, ...], data: bytes, secure: bool) -> None:
        self._node(parts[:-1])[parts[-1]] = [bytearray(data), secure]

    def write_at(self, parts: tuple[str, ...], offset: int, data: bytes) -> None:
        buf = self._node(parts)[0]
        if offset > len(buf):
            buf.extend(bytes(offset - len(buf)))
        buf[offset : offset + len(data)] = data

    def mkdir(self, parts: tuple[str, ...]) -> None:
        self._node(parts[:-1])[parts[-1]] = {}

    def remove(self, parts: tuple[str, ...]) -> None:
        del self._node(parts[:-1])[parts[-1]]

    def rename(self, src: tuple[str, ...], dst: tuple[str, ...]) -> None:
        node = self._node(src[:-1]).pop(src[-1])
        self._node(dst[:-1])[dst[-1]] = node

    def wipe(self) -> None:
        self.tree = {}


class Flash:
    """`/flash` with `cert/` and `lib/` (D-FS). Paths follow `harness.xbee.fspath`.

    `store` holds the bytes: in memory by default; `harness.sim.host.flashfs.FlashFS` gives
    it a host folder. `root` is that folder, or None in memory."""

    root: Path | None = None

    def __init__(self, store: Store | None = None, *, volume_bytes: int = VOLUME_BYTES):
        self.volume_bytes = volume_bytes
        self._store: Store = store if store is not None else _MemoryStore()
        self._ensure_layout()

    def _ensure_layout(self) -> None:
        """A fresh or formatted volume has `/flash/cert` and `/flash/lib` (D-FS)."""
        for d in (fspath.CERT_DIR, fspath.LIB_DIR):
            if not self.exists(d):
                try:
                    self.mkdir(d)
                except FsError as exc:  # e.g. a link named `cert` in the folder
                    log.warning("flash folder: cannot make %s: %s", d, exc)

    # ----- lookup ------------------------------------------------------------------------

    @staticmethod
    def resolve(path: str, cwd: str = fspath.FLASH) -> str:
        """Digi's path rules (fspath.resolve), with the error as an FsError."""
        try:
            return fspath.resolve(path, cwd)
        except PathError as exc:
            reason = Reason.DENIED if exc.kind == "outside" else Reason.BAD_NAME
            raise FsError(reason, path, exc.why) from None

    def _find(self, path: str, cwd: str) -> tuple[str, tuple[str, ...], Entry]:
        """(resolved path, actual-case components under /flash, entry) or NOT_FOUND."""
        resolved = self.resolve(path, cwd)
        parts = fspath.split(resolved)
        if not parts:
            return resolved, (), Entry("", fspath.ROOT, True)
        actual: list[str] = []
        entry = Entry(fspath.FLASH_NAME, fspath.FLASH, True)
        for want in parts[1:]:
            if not entry.is_dir:
                raise FsError(Reason.NOT_FOUND, path, f"{entry.path} is a file")
            match = None
            for name, is_dir, size, secure in self._store.entries(tuple(actual)):
                if fspath.key(name) == fspath.key(want):
                    match = Entry(name, fspath.join([fspath.FLASH_NAME, *actual, name]),
                                  is_dir, size, secure)
                    break
            if match is None:
                raise FsError(Reason.NOT_FOUND, path)
            actual.append(match.name)
            entry = match
        return resolved, tuple(actual), entry

    def _new(self, path: str, cwd: str) -> tuple[str, tuple[str, ...]]:
        """Where a new entry goes: its parent must exist as a directory below /flash."""
        resolved = self.resolve(path, cwd)
        parts = fspath.split(resolved)
        if len(parts) < 2:
            # BLU/Zigbee FS pages (D-FSCMD family): nothing but /flash at the root
            raise FsError(Reason.DENIED, path, "cannot create entries at the root")
        _, parent, pentry = self._find(fspath.join(parts[:-1]), fspath.ROOT)
        if not pentry.is_dir:
            raise FsError(Reason.NOT_DIR, path, f"{pentry.path} is a file")
        return resolved, (*parent, parts[-1])

    def stat(self, path: str, cwd: str = fspath.FLASH) -> Entry:
        return self._find(path, cwd)[2]

    def exists(self, path: str, cwd: str = fspath.FLASH) -> bool:
        try:
            self._find(path, cwd)
        except FsError:
            return False
        return True

    def listdir(self, path: str = ".", cwd: str = fspath.FLASH) -> list[Entry]:
        """Entries of a directory, directories first, then by name (case-insensitive)."""
        _, parts, entry = self._find(path, cwd)
        if not entry.is_dir:
            raise FsError(Reason.NOT_DIR, path)
        if entry.path == fspath.ROOT:
            return [Entry(fspath.FLASH_NAME, fspath.FLASH, True)]
        base = [fspath.FLASH_NAME, *parts]
        out = [Entry(n, fspath.join([*base, n]), d, s, sec)
               for n, d, s, sec in self._store.entries(parts)]
        return sorted(out, key=lambda e: (not e.is_dir, fspath.key(e.name)))

    # ----- reading -----------------------------------------------------------------------

    def _file(self, path: str, cwd: str, *, privileged: bool) -> tuple[tuple[str, ...], Entry]:
        _, parts, entry = self._find(path, cwd)
        if entry.is_dir:
            raise FsError(Reason.IS_DIR, path)
        if entry.secure and not privileged:
            # D-3B SECURE: "a write-only file (one that cannot be downloaded or viewed)"
            raise FsError(Reason.DENIED, path, "secure file: write-only")
        return parts, entry

    def read(self, path: str, cwd: str = fspath.FLASH) -> bytes:
        """A file's bytes for the host (ATFS GET, 0x3B read); refused for secure files."""
        parts, _ = self._file(path, cwd, privileged=False)
        return self._store.read(parts)

    def read_privileged(self, path: str, cwd: str = fspath.CERT_DIR) -> bytes:
        """A file's bytes for the module itself (its TLS stack reading a secure key)."""
        parts, _ = self._file(path, cwd, privileged=True)
        return self._store.read(parts)

    def read_at(self, path: str, offset: int, size: int, cwd: str = fspath.FLASH) -> bytes:
        parts, entry = self._file(path, cwd, privileged=False)
        if offset > entry.size:
            raise FsError(Reason.PAST_EOF, path, f"offset {offset} > size {entry.size}")
        return self._store.read_at(parts, offset, size)

    def hash(self, path: str, cwd: str = fspath.FLASH) -> bytes:
        """SHA-256 of a file, secure ones included: the 0x3B hash page speaks of a delay
        "to calculate the hash of a non-secure file", so secure files have one (A-FS-SECURE)."""
        parts, _ = self._file(path, cwd, privileged=True)
        return hashlib.sha256(self._store.read(parts)).digest()

    # ----- writing -----------------------------------------------------------------------

    def _room(self, path: str, grow: int) -> None:
        if grow > 0 and self.info().free < grow:
            raise FsError(Reason.FULL, path, f"{grow} more bytes do not fit")

    def write(self, path: str, data: bytes, *, secure: bool = False,
              cwd: str = fspath.FLASH) -> str:
        """Create or replace a file (ATFS PUT/XPUT); returns its resolved path."""
        try:
            _, parts, entry = self._find(path, cwd)
        except FsError as exc:
            if exc.reason is not Reason.NOT_FOUND:
                raise
            resolved, parts = self._new(path, cwd)
            old = 0
        else:
            if entry.is_dir:
                raise FsError(Reason.IS_DIR, path)
            resolved, old = entry.path, entry.size
        self._room(path, len(data) - old)
        self._store.write(parts, bytes(data), secure)
        return resolved

    def create(self, path: str, *, secure: bool = False, exclusive: bool = False,
               truncate: bool = False, cwd: str = fspath.FLASH) -> Entry:
        """Open-for-write semantics of 0x3B File Open: create if missing (D-3B options)."""
        try:
            _, parts, entry = self._find(path, cwd)
        except FsError as exc:
            if exc.reason is not Reason.NOT_FOUND:
                raise
            _, parts = self._new(path, cwd)
            self._store.write(parts, b"", secure)
            return self.stat(path, cwd)
        if exclusive:
            raise FsError(Reason.EXISTS, path)
        if entry.is_dir:
            raise FsError(Reason.IS_DIR, path)
        if entry.secure and not secure:
            # issue 10 defect 5: opening a secure file without SECURE must not empty it or
            # make it readable; Access denied, the file kept (D-BB 0x50, A-FS-SECURE-OPEN)
            raise FsError(Reason.DENIED, path, "secure file: open it with SECURE")
        if truncate or secure != entry.secure:
            self._store.write(parts, b"", secure)
        return self.stat(path, cwd)

    def write_at(self, path: str, offset: int, data: bytes, cwd: str = fspath.FLASH) -> int:
        """Write into an existing file (0x3B File Write); returns the offset after it."""
        parts, entry = self._file(path, cwd, privileged=True)
        self._room(path, offset + len(data) - entry.size)
        self._store.write_at(parts, offset, bytes(data))
        return offset + len(data)

    def mkdir(self, path: str, cwd: str = fspath.FLASH) -> str:
        if self.exists(path, cwd):
            raise FsError(Reason.EXISTS, path)
        resolved, parts = self._new(path, cwd)
        self._store.mkdir(parts)
        return resolved

    def remove(self, path: str, cwd: str = fspath.FLASH) -> None:
        """Delete a file or an empty directory (D-FSCMD RM)."""
        _, parts, entry = self._find(path, cwd)
        if len(parts) == 0:
            raise FsError(Reason.DENIED, path, "cannot remove /flash")
        if entry.is_dir and self._store.entries(parts):
            raise FsError(Reason.NOT_EMPTY, path)
        self._store.remove(parts)

    def rename(self, src: str, dst: str, cwd: str = fspath.FLASH) -> str:
        """Move or rename (ATFS MV, 0x3B 0x21); an existing file at `dst` is replaced."""
        _, sparts, sentry = self._find(src, cwd)
        if not sparts:
            raise FsError(Reason.DENIED, src, "cannot move /flash")
        try:
            _, dparts, dentry = self._find(dst, cwd)
        except FsError as exc:
            if exc.reason is not Reason.NOT_FOUND:
                raise
            resolved, dparts = self._new(dst, cwd)
        else:
            if dentry.is_dir:
                raise FsError(Reason.EXISTS, dst, "a directory is in the way")
            if sentry.is_dir:
                raise FsError(Reason.NOT_DIR, dst)
            if dparts == sparts:
                return dentry.path
            resolved = dentry.path
            self._store.remove(dparts)
        if sentry.is_dir and fspath.key(resolved).startswith(fspath.key(sentry.path) + "/"):
            raise FsError(Reason.BAD_PARAM, dst, "cannot move a directory into itself")
        self._store.rename(sparts, dparts)
        return resolved

    # ----- volume ------------------------------------------------------------------------

    def _used(self, parts: tuple[str, ...] = ()) -> int:
        total = 0
        for name, is_dir, size, _ in self._store.entries(parts):
            total += self._used((*parts, name)) if is_dir else size
        return total

    def info(self) -> VolumeInfo:
        """Bytes used / free / bad / total of the 1 MB volume (D-FS; A-FS-VOLUME)."""
        used = self._used()
        return VolumeInfo(used, max(self.volume_bytes - used, 0), 0, self.volume_bytes)

    def format(self) -> None:
        """ATFS FORMAT confirm / 0x3B 0x4F: everything goes, `cert/` and `lib/` come back."""
        self._store.wipe()
        self._ensure_layout()
