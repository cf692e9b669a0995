"""0x3B File System Request / 0xBB Response: the file system in API mode (§2.12, D-3B, D-BB).

Each request names a command (open, close, read, write, hash, directory create / open /
read / close, get path ID, rename, delete, volume info, format) and gets one 0xBB answer
with a status from D-BB, unless its frame ID is 0. Files and directories are opened into
16-bit handles that expire when unused for 2 minutes (D-3B 0x01 page); names are relative
to a Path ID, 0 meaning the root `/` (D-3B notes), with Digi's rules (`xbee.fspath`).
Layouts not in the reference follow xbee-python's command classes (L-PY
`models/filesystem.py`): rename's `name,new_name`, directory entries, volume fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.sim.core.feature import Feature
from harness.sim.core.flash import Entry, FsError, Reason
from harness.xbee import api, codes, fspath

log = logging.getLogger(__name__)


Cmd = codes.FsCommand  # 0x3B command numbers: one home, xbee.codes (D-3B p.289)
Open = codes.FsOpen  # File Open options (D-3B 0x01 page)


# Directory entry flags (L-PY DirResponseFlag).
ENTRY_IS_DIR = 0x80
ENTRY_IS_SECURE = 0x40
ENTRY_IS_LAST = 0x01

CURRENT = 0xFFFFFFFF  # offset "use the current position" (D-3B p.292)
AS_MUCH_AS_FITS = 0xFFFF  # read size "as many as fit" (D-3B p.292)
UNKNOWN_SIZE = 0xFFFFFFFF  # open response: size unknown (D-3B 0x01 page)
HANDLE_TTL = 120.0  # D-3B: a handle "expires … if not referenced for over 2 minutes"
# Most data bytes one 0xBB carries (reads, directory listings): xbee-python's cellular
# block size (L-PY `_DEFAULT_BLOCK_SIZE_CELLULAR` = 1490). ASSUMPTION A-FS-FRAME-DATA.
MAX_DATA = 1490
ROOT_PATH_ID = 0  # D-3B notes: "The default of 0x0000 refers to the root directory (/)"

SUCCESS = codes.FsStatus.SUCCESS
INVALID_COMMAND = codes.FsStatus.INVALID_COMMAND  # D-BB
INVALID_PARAMETER = codes.FsStatus.INVALID_PARAMETER  # D-BB


class _BadRequest(Exception):
    """A request too short or with fields that make no sense: status 0x03 (D-BB)."""


@dataclass(slots=True)
class _File:
    path: str
    readable: bool
    writable: bool
    position: int
    used: float


@dataclass(slots=True)
class _Dir:
    path: str
    entries: list[bytes]
    used: float


@dataclass(slots=True)
class _PathId:
    path: str
    used: float


@dataclass(slots=True)
class _Handles:
    """16-bit handles shared by files, directories and path IDs (never 0)."""

    files: dict[int, _File] = field(default_factory=dict)
    dirs: dict[int, _Dir] = field(default_factory=dict)
    paths: dict[int, _PathId] = field(default_factory=dict)
    last: int = 0

    def new(self) -> int:
        taken = self.files.keys() | self.dirs.keys() | self.paths.keys()
        for _ in range(0xFFFF):
            self.last = self.last % 0xFFFF + 1
            if self.last not in taken:
                return self.last
        raise FsError(Reason.FULL, "handles", "no free handle")

    def expire(self, now: float) -> None:
        for table in (self.files, self.dirs, self.paths):
            for h in [h for h, v in table.items() if now - v.used > HANDLE_TTL]:
                del table[h]


def _u16(data: bytes, at: int) -> int:
    if len(data) < at + 2:
        raise _BadRequest(f"request too short for a 16-bit field at {at}")
    return int.from_bytes(data[at : at + 2], "big")


def _u32(data: bytes, at: int) -> int:
    if len(data) < at + 4:
        raise _BadRequest(f"request too short for a 32-bit field at {at}")
    return int.from_bytes(data[at : at + 4], "big")


def _u32_field(n: int) -> bytes:
    """A 4-byte response field; a size the field cannot hold is "unknown" (D-3B 0x01 page)
    rather than an OverflowError that would stop the simulator (issue 10)."""
    return min(n, UNKNOWN_SIZE).to_bytes(4, "big")


def _name(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise FsError(Reason.BAD_NAME, repr(data[:32]), "name is not ASCII") from None


class FsFrames(Feature):
    """The 0x3B/0xBB frames (feature `fs_frames`)."""

    name = "fs_frames"
    frame_types = (api.FileSystemRequest.FRAME_TYPE,)

    def __init__(self) -> None:
        self._h = _Handles()
        self._commands: dict[int, Callable[[bytes, float], bytes]] = {
            Cmd.FILE_OPEN: self._open, Cmd.FILE_CLOSE: self._close,
            Cmd.FILE_READ: self._read, Cmd.FILE_WRITE: self._write,
            Cmd.FILE_HASH: self._hash, Cmd.DIR_CREATE: self._mkdir,
            Cmd.DIR_OPEN: self._opendir, Cmd.DIR_CLOSE: self._closedir,
            Cmd.DIR_READ: self._readdir, Cmd.GET_PATH_ID: self._path_id,
            Cmd.RENAME: self._rename, Cmd.DELETE: self._delete,
            Cmd.VOLUME_INFO: self._volume, Cmd.VOLUME_FORMAT: self._format,
        }

    @property
    def flash(self):
        return self.modem.flash

    def on_frame(self, frame, now: float) -> None:
        if not isinstance(frame, api.FileSystemRequest):
            log.info("0x3B dropped: %s", getattr(frame, "error", frame))
            return
        self._h.expire(now)
        handler = self._commands.get(frame.fs_command)
        payload = b""
        status: int
        if handler is None:
            status = INVALID_COMMAND
        else:
            try:
                payload = handler(bytes(frame.fs_data), now)
                status = SUCCESS
            except FsError as exc:
                log.debug("0x3B 0x%02X: %s", frame.fs_command, exc)
                status = exc.status
            except _BadRequest as exc:
                log.debug("0x3B 0x%02X: %s (frame data %s)", frame.fs_command, exc,
                          bytes(frame.fs_data[:32]).hex(" "))
                status = INVALID_PARAMETER
        if frame.frame_id == 0:
            return  # D-3B: frame ID 0 ⇒ no response
        self.modem.send_frame(api.FileSystemResponse(
            frame_id=frame.frame_id, fs_command=frame.fs_command, status=status,
            fs_data=payload if status == SUCCESS else b""))  # D-BB: data only on success

    def on_reset(self) -> None:
        self._h = _Handles()

    # ----- names relative to a path ID -----------------------------------------------------

    def _base(self, path_id: int, now: float) -> str:
        if path_id == ROOT_PATH_ID:
            return fspath.ROOT
        entry = self._h.paths.get(path_id)
        if entry is None:
            raise _BadRequest(f"unknown path ID {path_id}")
        entry.used = now
        return entry.path

    def _target(self, data: bytes, now: float, *, empty_ok: bool = False) -> tuple[str, str]:
        """(name as sent, base directory) from `path ID (2) + name`."""
        base = self._base(_u16(data, 0), now)
        name = _name(data[2:])
        if not name:
            if not empty_ok:
                raise FsError(Reason.BAD_NAME, "", "empty name")
            name = "."  # D-3B notes: an empty name is "."
        return name, base

    # ----- files ---------------------------------------------------------------------------

    def _open(self, data: bytes, now: float) -> bytes:
        base = self._base(_u16(data, 0), now)
        if len(data) < 3:
            raise _BadRequest("File Open without options")
        opts = Open(data[2])
        name = _name(data[3:])
        secure = bool(opts & Open.SECURE)
        if secure and not (opts & Open.WRITE and (
                (opts & Open.CREATE and opts & Open.EXCLUSIVE) or opts & Open.TRUNCATE)):
            # D-3B: SECURE "only valid with WRITE and CREATE+EXCLUSIVE or TRUNCATE"
            raise _BadRequest(f"SECURE with options 0x{int(opts):02X}")
        if secure and opts & Open.READ:
            raise FsError(Reason.DENIED, name, "a secure file is write-only")
        if opts & Open.CREATE:
            entry = self.flash.create(name, secure=secure, exclusive=bool(opts & Open.EXCLUSIVE),
                                      truncate=bool(opts & Open.TRUNCATE), cwd=base)
        else:
            entry = self.flash.stat(name, base)
            if entry.is_dir:
                raise FsError(Reason.IS_DIR, name)
            if entry.secure and not secure:
                raise FsError(Reason.DENIED, name, "secure file: open it with SECURE "
                              "(A-FS-SECURE-OPEN)")
            if opts & Open.TRUNCATE and opts & Open.WRITE:
                entry = self.flash.create(name, secure=secure, truncate=True, cwd=base)
        if entry.is_dir:
            raise FsError(Reason.IS_DIR, name)
        if entry.secure and opts & Open.READ:
            raise FsError(Reason.DENIED, name, "secure file: write-only (D-3B)")
        readable = bool(opts & Open.READ) or not (opts & Open.WRITE)
        handle = self._h.new()
        position = entry.size if opts & Open.APPEND else 0
        self._h.files[handle] = _File(entry.path, readable, bool(opts & Open.WRITE), position,
                                      now)
        return handle.to_bytes(2, "big") + _u32_field(entry.size)

    def _file(self, data: bytes, now: float) -> tuple[int, _File]:
        handle = _u16(data, 0)
        f = self._h.files.get(handle)
        if f is None:
            raise _BadRequest(f"unknown file handle {handle}")
        f.used = now
        return handle, f

    def _close(self, data: bytes, now: float) -> bytes:
        handle, _ = self._file(data, now)
        del self._h.files[handle]
        return b""

    def _read(self, data: bytes, now: float) -> bytes:
        handle, f = self._file(data, now)
        offset, want = _u32(data, 2), _u16(data, 6)
        if not f.readable:
            raise FsError(Reason.DENIED, f.path, "opened write-only")
        if offset == CURRENT:
            offset = f.position
        count = MAX_DATA if want == AS_MUCH_AS_FITS else min(want, MAX_DATA)
        size = self.flash.stat(f.path).size
        if offset > size:  # at the end: an empty chunk, past it: an error (D-BB 0x56)
            raise FsError(Reason.PAST_EOF, f.path, f"offset {offset} of {size}")
        chunk = self.flash.read_at(f.path, offset, count)
        f.position = offset + len(chunk)
        return handle.to_bytes(2, "big") + offset.to_bytes(4, "big") + chunk

    def _write(self, data: bytes, now: float) -> bytes:
        handle, f = self._file(data, now)
        offset = _u32(data, 2)
        chunk = data[6:]
        if not f.writable:
            raise FsError(Reason.DENIED, f.path, "opened read-only")
        if offset == CURRENT:
            offset = f.position
        if chunk:  # empty data only refreshes the handle (D-3B p.292)
            f.position = self.flash.write_at(f.path, offset, chunk)
        return handle.to_bytes(2, "big") + f.position.to_bytes(4, "big")

    def _hash(self, data: bytes, now: float) -> bytes:
        name, base = self._target(data, now)
        return self.flash.hash(name, base)  # D-3B: 32-byte SHA-256

    # ----- directories ---------------------------------------------------------------------

    def _mkdir(self, data: bytes, now: float) -> bytes:
        name, base = self._target(data, now)
        self.flash.mkdir(name, base)
        return b""

    @staticmethod
    def _entry(e: Entry) -> bytes:
        flags = (ENTRY_IS_DIR if e.is_dir else 0) | (ENTRY_IS_SECURE if e.secure else 0)
        return bytes((flags,)) + min(e.size, 0xFFFFFF).to_bytes(3, "big") + e.name.encode()

    def _batch(self, handle: int, d: _Dir) -> bytes:
        """As many entries as fit; the last one of the listing carries IS_LAST (L-PY)."""
        out = bytearray(handle.to_bytes(2, "big"))
        last, taken = len(out), 0
        while d.entries and (not taken or len(out) + 1 + len(d.entries[0]) <= MAX_DATA):
            if taken:
                out.append(0)  # entries are NUL-separated (L-PY OpenDirCmdResponse)
            last, taken = len(out), taken + 1
            out += d.entries.pop(0)
        if not d.entries:
            out[last] |= ENTRY_IS_LAST
            self._h.dirs.pop(handle, None)  # L-PY: IS_LAST "automatically closes" the handle
        return bytes(out)

    def _opendir(self, data: bytes, now: float) -> bytes:
        name, base = self._target(data, now, empty_ok=True)
        entries = [self._entry(e) for e in self.flash.listdir(name, base)]
        if not entries:
            entries = [bytes(4)]  # L-PY: an empty directory is one IS_LAST entry, no name
        handle = self._h.new()
        d = _Dir(self.flash.stat(name, base).path, entries, now)
        self._h.dirs[handle] = d
        return self._batch(handle, d)

    def _dir(self, data: bytes, now: float) -> tuple[int, _Dir]:
        handle = _u16(data, 0)
        d = self._h.dirs.get(handle)
        if d is None:
            raise _BadRequest(f"unknown directory handle {handle}")
        d.used = now
        return handle, d

    def _readdir(self, data: bytes, now: float) -> bytes:
        handle, d = self._dir(data, now)
        return self._batch(handle, d)

    def _closedir(self, data: bytes, now: float) -> bytes:
        handle, _ = self._dir(data, now)
        del self._h.dirs[handle]
        return b""

    def _path_id(self, data: bytes, now: float) -> bytes:
        name, base = self._target(data, now, empty_ok=True)
        entry = self.flash.stat(name, base)
        if not entry.is_dir:
            raise FsError(Reason.NOT_DIR, name)
        handle = self._h.new()
        self._h.paths[handle] = _PathId(entry.path, now)
        return handle.to_bytes(2, "big") + entry.path.encode()

    # ----- names ---------------------------------------------------------------------------

    def _rename(self, data: bytes, now: float) -> bytes:
        names, base = self._target(data, now)
        old, sep, new = names.partition(",")  # L-PY RenameCmdRequest: name "," new_name
        if not sep or not old or not new:
            raise _BadRequest(f"rename wants 'old,new', got {names!r}")
        self.flash.rename(old, new, base)
        return b""

    def _delete(self, data: bytes, now: float) -> bytes:
        name, base = self._target(data, now)
        self.flash.remove(name, base)
        return b""

    # ----- volume --------------------------------------------------------------------------

    def _volume_bytes(self) -> bytes:
        info = self.flash.info()  # L-PY VolStatCmdResponse: used, free, bad (4 bytes each)
        return b"".join(_u32_field(n) for n in (info.used, info.free, info.bad))

    def _check_volume(self, data: bytes) -> None:
        name = _name(data) or fspath.FLASH
        if fspath.key(self.flash.resolve(name, fspath.ROOT)) != fspath.FLASH:
            raise FsError(Reason.NOT_FOUND, name, "the only volume is /flash")

    def _volume(self, data: bytes, now: float) -> bytes:
        self._check_volume(data)
        return self._volume_bytes()

    def _format(self, data: bytes, now: float) -> bytes:
        self._check_volume(data)
        self.flash.format()
        self._h = _Handles()  # every open handle pointed into the old volume
        return self._volume_bytes()
