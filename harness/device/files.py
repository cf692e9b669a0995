"""Certificates and keys on the module: upload, hash check, remove, list (reference §6).

Uploads use `ATFS PUT` / `ATFS XPUT` in command mode with the YMODEM sender of
`harness.xbee.ymodem` driven over the tap (D-FSCMD, L-PY `filesystem.py` §6.3). Before an
upload, `ATFS HASH` is compared with the local file's SHA-256 and a match skips the upload
(each upload costs flash wear and seconds). Private keys go with XPUT (D-TLS p.100: "a secure
file uploaded with ATFS XPUT") and inside the tap's `redact_upload`, so the capture keeps
only their size and SHA-256.

File-system commands work only in command mode on the Cat 1 (D-FSCMD p.228: "only work from
Command mode"); `Module.command()` enters it from either mode. Firmwares with the 0x3B/0xBB
frames (LTE-M/NB-IoT guide, D-3B) can use `Files(module, method="frames")` in API mode:
open/write/close, hash and delete as frames, no command mode at all.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.device import progress
from harness.device.command import FS_ERROR, CommandMode
from harness.device.errors import CommandError, DeviceTimeout, FileError
from harness.device.module import Module
from harness.xbee import api, codes, fspath, ymodem
from harness.xbee.codes import FsCommand, FsOpen, FsStatus

CERT_DIR = fspath.CERT_DIR  # D-FS: "a cert directory for files used for SSL/TLS sockets"
# How long a whole upload may take: 1 MB at 9600 baud is ~18 min; certificates are a few
# KiB (~5 s at 9600). Scaled by size below.
UPLOAD_BASE_TIMEOUT = 30.0
UPLOAD_BYTES_PER_S = 600  # 9600 baud ≈ 960 B/s, less the YMODEM overhead and turnarounds
PROMPT_TIMEOUT = 10.0  # for the receiver's first "C" after ATFS PUT (L-PY waits on it)
REPLY_TIMEOUT = 15.0  # FS commands block the AT processor until done (D-FSCMD p.228)
_SHA256 = re.compile(r"\b([0-9A-Fa-f]{64})\b")
_LS_ENTRY = re.compile(r"^\s*(<DIR>|\d+)\s+(.+?)\s*$")  # "  32 test.txt", "<DIR> lib/" (D-FSCMD)
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PARTIAL_ERROR = re.compile(rb"E[A-Z0-9]*")

# 0x3B File System commands and File Open options: `xbee.codes.FsCommand`, `FsOpen`.
PATH_ID_CWD = 0x0000  # path ID 0: names resolve from the current directory (/flash), L-PY
CURRENT_OFFSET = 0xFFFFFFFF  # D-3B: "0xFFFFFFFF = current"
# Bytes of file data per 0x3B File Write. The module's limit (NP) is not in the reference;
# ASSUMPTION A-FS-CHUNK (docs/assumptions.md).
FS_WRITE_CHUNK = 512


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of `ATFS LS`: name (a trailing `#` marks a secure file, L-PY), size."""

    name: str
    size: int | None  # None for a directory
    is_dir: bool
    secure: bool


@dataclass(frozen=True, slots=True)
class Upload:
    """What `put` did: where, how big, the SHA-256, whether it was skipped by hash."""

    path: str
    size: int
    sha256: str
    secure: bool
    skipped: bool
    seconds: float


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_private_key(data: bytes) -> bool:
    """PEM private keys (`BEGIN RSA PRIVATE KEY`, PKCS#1, D-TLS p.101, or any other)."""
    return bool(_PRIVATE_KEY.search(data))


def remote_path(name: str, directory: str = CERT_DIR) -> str:
    """Digi's resolution of a name against a directory (D-FS), checked by `fspath`."""
    try:
        return fspath.resolve(name, directory)
    except fspath.PathError as exc:
        raise FileError(f"file name {name!r}: {exc.why}") from None


class Files:
    """The module's file system, through a `Module`: `ATFS` in command mode (entered once)
    or, with `method="frames"`, 0x3B/0xBB frames in API mode."""

    def __init__(self, module: Module, *, method: str = "atfs") -> None:
        if method not in ("atfs", "frames"):
            raise ValueError(f"method={method!r}: expected 'atfs' or 'frames'")
        self.module = module
        self.method = method

    # --- queries ---
    def hash(self, path: str) -> str | None:
        """`ATFS HASH path` → lower-case hex SHA-256, or None when the file does not exist
        (or the firmware does not hash it: secure-file hashing is UNVERIFIED, §10 item 6)."""
        if self.method == "frames":
            name = PATH_ID_CWD.to_bytes(2, "big") + path.encode()
            status, data = self._fs(FsCommand.FILE_HASH, name)
            return data[:32].hex() if status == 0 and len(data) >= 32 else None
        cm = self.module.command()
        try:
            lines = self._answer(cm, f"ATFS HASH {path}", want=_SHA256)
        except CommandError:
            return None
        for line in lines:
            m = _SHA256.search(line)
            if m:
                return m.group(1).lower()
        return None

    def list(self, directory: str = CERT_DIR) -> list[Entry]:
        """`ATFS LS dir`: entries, without `./` and `../` (D-FSCMD). Command mode in
        either method (a directory listing by frames is not needed for certificates)."""
        cm = self.module.command()
        out = []
        for line in cm.lines(f"ATFS LS {directory}", timeout=REPLY_TIMEOUT):
            m = _LS_ENTRY.match(line)
            if not m:
                continue
            size, name = m.groups()
            is_dir = size == "<DIR>"
            if name in ("./", "../"):
                continue
            secure = name.endswith("#")
            out.append(Entry(name.rstrip("/#"), None if is_dir else int(size), is_dir, secure))
        return out

    # --- changes ---
    def remove(self, path: str, *, missing_ok: bool = True) -> bool:
        """`ATFS RM path` (or 0x3B Delete); True if something was removed."""
        if self.method == "frames":
            status, _ = self._fs(FsCommand.DELETE, PATH_ID_CWD.to_bytes(2, "big") + path.encode())
            if status == 0:
                return True
            if missing_ok and status == FsStatus.DOES_NOT_EXIST:
                return False
            raise FileError(f"removing {path}: {codes.describe('FS', status)}")
        cm = self.module.command()
        try:
            self._answer(cm, f"ATFS RM {path}", want=re.compile(r"^OK$"))
        except CommandError as exc:
            if missing_ok and ("ENOENT" in exc.reply or "exist" in exc.reply.lower()):
                return False
            raise FileError(f"removing {path}: module answered {exc.reply!r}") from None
        return True

    def put(
        self,
        source: str | Path | bytes,
        name: str | None = None,
        *,
        directory: str = CERT_DIR,
        secure: bool | None = None,
        force: bool = False,
        verify: bool = True,
    ) -> Upload:
        """Upload a file unless `ATFS HASH` already matches its SHA-256.

        `source` is a local path or the bytes; `name` defaults to the file's name. `secure`
        defaults to True for private keys (XPUT, D-TLS p.100). With `verify`, the module's
        hash is read after the upload and must match.
        """
        if isinstance(source, bytes):
            data = source
            if name is None:
                raise FileError("put(bytes) needs a name for the file on the module")
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise FileError(f"cannot read {source}: {exc.strerror or exc}") from None
            name = name or Path(source).name
        path = remote_path(name, directory)
        secure = is_private_key(data) if secure is None else secure
        digest = sha256_hex(data)
        clock = self.module.tap.clock
        start = clock.now()
        if not force and self.hash(path) == digest:
            self.module.tap.note("file", path=path, action="skipped", sha256=digest)
            return Upload(path, len(data), digest, secure, True, clock.now() - start)
        if self.method == "frames":
            self._frames_put(path, data, secure=secure)
        else:
            self._ymodem_put(path, data, secure=secure)
        if verify:
            got = self.hash(path)
            if got is not None and got != digest:
                raise FileError(
                    f"uploaded {path} ({len(data)} bytes) but the module hashes it as "
                    f"{got}, not {digest}"
                )
        self.module.tap.note(
            "file", path=path, action="uploaded", size=len(data), sha256=digest, secure=secure
        )
        return Upload(path, len(data), digest, secure, False, clock.now() - start)

    # --- 0x3B frames (D-3B) ---
    def _fs(self, command: int, data: bytes, *, what: str = "") -> tuple[int, bytes]:
        """One 0x3B request → (0xBB status, data after the status)."""
        client = self.module.api()
        frame = api.FileSystemRequest(client.next_frame_id(), command, data)
        rec = client.request(frame, timeout=REPLY_TIMEOUT)
        self.module.stats.at_round_trips += 1
        f = rec.frame
        if not isinstance(f, api.FileSystemResponse):
            raise FileError(f"0x3B command 0x{command:02X}{what}: unexpected answer {f.to_dict()}")
        return f.status, f.fs_data

    def _frames_put(self, path: str, data: bytes, *, secure: bool) -> None:
        """Open (create, write, truncate [, secure]), write in chunks, close (D-3B)."""
        flags = FsOpen.CREATE | FsOpen.WRITE | FsOpen.TRUNCATE | (FsOpen.SECURE if secure else 0)
        hide = secure or is_private_key(data)
        tap = self.module.tap
        with tap.redact_upload(f"0x3B write {path}", data) if hide else contextlib.nullcontext():
            status, reply = self._fs(
                FsCommand.FILE_OPEN,
                PATH_ID_CWD.to_bytes(2, "big") + bytes((flags,)) + path.encode(),
                what=f" (open {path})",
            )
            if status != 0 or len(reply) < 2:
                raise FileError(f"opening {path} for writing: {codes.describe('FS', status)}")
            handle = reply[:2]
            try:
                for i in range(0, len(data), FS_WRITE_CHUNK):
                    chunk = data[i : i + FS_WRITE_CHUNK]
                    status, _ = self._fs(
                        FsCommand.FILE_WRITE,
                        handle + CURRENT_OFFSET.to_bytes(4, "big") + chunk,
                        what=f" (write {path})",
                    )
                    if status != 0:
                        raise FileError(
                            f"writing {path} at byte {i}: {codes.describe('FS', status)}"
                        )
            finally:
                self._fs(FsCommand.FILE_CLOSE, handle, what=f" (close {path})")

    # --- the YMODEM upload ---
    def _ymodem_put(self, path: str, data: bytes, *, secure: bool) -> None:
        cm = self.module.command()
        tap = self.module.tap
        verb = "XPUT" if secure else "PUT"
        hide = secure or is_private_key(data)
        sender = ymodem.YmodemSender(Path(path).name, data)
        budget = UPLOAD_BASE_TIMEOUT + len(data) / UPLOAD_BYTES_PER_S
        if hide:
            with tap.redact_upload(f"{verb} {path}", data):
                self._drive(cm, f"ATFS {verb} {path}", sender, budget)
        else:
            self._drive(cm, f"ATFS {verb} {path}", sender, budget)
        tail = tap.drain(quiet=0.2, limit=REPLY_TIMEOUT).decode("latin-1")
        for line in tail.replace("\n", "\r").split("\r"):
            if FS_ERROR.match(line.strip()):
                raise FileError(f"ATFS {verb} {path}: module answered {line.strip()!r}")

    def _drive(
        self, cm: CommandMode, line: str, sender: ymodem.YmodemSender, budget: float
    ) -> None:
        tap = self.module.tap
        cm.send_line(line)
        first = self._wait_prompt(line)
        now = tap.clock.now()
        deadline = now + budget
        sender.start(now)
        out = sender.feed(first, now)
        total, said = len(sender.data), now
        while True:
            if out:
                tap.write(out)
            if now - said >= progress.WORTH_SAYING:  # one line a second or two, when slow
                said = now
                done = min(total, sender._index * ymodem.BLOCK_1K)  # blocks sent so far
                progress.say("upload", f"{line.split()[-1]}: {done}/{total} bytes")
            if sender.done:
                break
            now = tap.clock.now()
            if now > deadline:
                tap.write(ymodem.CANCEL)
                raise DeviceTimeout(f"{line}: YMODEM upload ran over {budget:.0f} s")
            data = tap.read_available(0.05)
            now = tap.clock.now()
            out = sender.feed(data, now) if data else sender.tick(now)
        if sender.error:
            raise FileError(f"{line}: YMODEM upload failed: {sender.error}")

    def _wait_prompt(self, line: str) -> bytes:
        """Read the answer to `ATFS PUT` up to the receiver's "C" (L-PY: the reply must end
        with C); an `E…` error line raises (D-FSCMD). Returns the bytes from that "C" on."""
        tap = self.module.tap
        deadline = tap.clock.now() + PROMPT_TIMEOUT
        buf = bytearray()
        while tap.clock.now() < deadline:
            buf += tap.read_available(0.05)
            *done, partial = bytes(buf).replace(b"\n", b"\r").split(b"\r")
            for text in done:
                if FS_ERROR.match(text.decode("latin-1").strip()) or text.strip() == b"ERROR":
                    raise FileError(f"{line}: module answered {text.strip().decode('latin-1')!r}")
            stripped = partial.strip()
            if ymodem.CRC_MODE in partial and not _PARTIAL_ERROR.fullmatch(stripped):
                return partial[partial.index(ymodem.CRC_MODE) :]
        raise DeviceTimeout(
            f"{line}: no YMODEM start ('C') within {PROMPT_TIMEOUT:g} s (got {bytes(buf[-64:])!r})"
        )

    def _answer(
        self, cm: CommandMode, line: str, *, want: re.Pattern[str]
    ) -> builtins.list[str]:  # `list` here would be the method above
        """Lines of a one-shot FS answer until one matches `want`; `E…` raises CommandError."""
        tap = self.module.tap
        cm.send_line(line)
        deadline = tap.clock.now() + REPLY_TIMEOUT
        lines: list[str] = []
        while True:
            left = deadline - tap.clock.now()
            if left <= 0:
                raise DeviceTimeout(f"{line}: no answer within {REPLY_TIMEOUT:g} s ({lines})")
            raw = tap.read_until(b"\r", left, what=f"reply to {line}")
            text = raw[:-1].decode("latin-1").strip()
            if not text:
                continue
            if FS_ERROR.match(text) or text == "ERROR":
                tap.note("at", cmd=line, reply=text)
                raise CommandError(line.removeprefix("AT"), text)
            lines.append(text)
            if want.search(text):
                tap.note("at", cmd=line, reply=text)
                self.module.stats.at_round_trips += 1
                return lines
