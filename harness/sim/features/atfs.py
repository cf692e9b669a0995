"""`ATFS` in command mode: the module's file-system commands (reference §6.2, D-FSCMD).

Sub-commands PWD, CD, MD, LS, PUT, XPUT, GET, HASH, RM, MV, INFO and FORMAT act on the
Modem's `FlashFS` (`sim.core.flash`) with Digi's path rules (`xbee.fspath`). PUT/XPUT and GET
take the UART over for a real YMODEM transfer (`xbee.ymodem`): the feature holds it with
`take_uart` and answers the AT command when the transfer ends (`finish_at`), so the command
line is blocked meanwhile, as on the module ("block the AT command processor until
completed", D-FSCMD p.228). Reply formats follow what xbee-python parses (L-PY
`filesystem.py`); where Digi's text is not in the reference it is an assumption.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from harness.sim.core.effects import ToHost
from harness.sim.core.feature import ERROR, AtReply, Feature
from harness.sim.core.flash import Entry, FsError, Reason
from harness.xbee import fspath, ymodem

log = logging.getLogger(__name__)

# The sub-commands, in the order `ATFS` lists them. xbee-python reads the list with
# `^.*ATFS commands: (.*)$`, names separated by single spaces (L-PY); the banner's exact
# text is UNVERIFIED (ASSUMPTION A-ATFS-BANNER).
SUBCOMMANDS = ("PWD", "CD", "MD", "LS", "PUT", "XPUT", "GET", "HASH", "RM", "MV", "INFO",
               "FORMAT")
BANNER = "ATFS commands: " + " ".join(SUBCOMMANDS)  # A-ATFS-BANNER
PUT_PROMPT = "Receiving file with YMODEM..."  # D-FSCMD (FS PUT wording)
GET_PROMPT = "Sending file with YMODEM..."  # D-FSCMD (FS GET wording)
# xbee-python's get_file discards output until a NAK arrives, then starts its receiver
# (L-PY `LocalXBeeFileSystemManager.get_file`): so the module sends one after the prompt.
# ASSUMPTION A-ATFS-GET-NAK.
GET_READY = bytes((ymodem.NAK,))
# LS: "zero or more spaces, size or <DIR>, one space, name" (D-FSCMD); xbee-python needs at
# least one leading space (`^ +<DIR> (.+)/$`, `^ +([0-9]+) (.+)$`, L-PY), and the volume holds
# up to 7-digit sizes: a field of 8 (ASSUMPTION A-ATFS-LS). Secure files end in `#` (L-PY).
LS_WIDTH = 8
SECURE_MARK = "#"
# HASH: xbee-python splits the answer on "sha256" and keeps what follows (L-PY
# `get_file_hash`): one line "sha256 <hex>" (ASSUMPTION A-ATFS-HASH).
HASH_PREFIX = "sha256"
DONE = "OK"  # what MD, RM, MV, FORMAT and a finished PUT/GET print (D-FSCMD for MD)
FORMAT_CONFIRM = "confirm"  # D-FSCMD: `ATFS FORMAT confirm`


@dataclass(slots=True)
class _Transfer:
    """A YMODEM transfer in progress: which file, which end of the protocol we are."""

    verb: str
    path: str
    secure: bool
    machine: ymodem.YmodemReceiver | ymodem.YmodemSender


def _error_line(code: str, text: str) -> AtReply:
    return AtReply(text=f"{code} {text}")


class FsCommands(Feature):
    """The `ATFS` command (feature `fs_commands`)."""

    name = "fs_commands"
    at_commands = ("FS",)

    def __init__(self) -> None:
        self.cwd = fspath.FLASH  # D-FSCMD: PWD "defaults to /flash at startup"
        self._xfer: _Transfer | None = None
        self._verbs: dict[str, Callable[[list[str], float], AtReply | None]] = {
            "PWD": self._pwd, "CD": self._cd, "MD": self._md, "LS": self._ls,
            "PUT": self._put, "XPUT": self._xput, "GET": self._get, "HASH": self._hash,
            "RM": self._rm, "MV": self._mv, "INFO": self._info, "FORMAT": self._format,
        }

    @property
    def flash(self):
        return self.modem.flash

    # ----- the AT command ------------------------------------------------------------------

    def on_at(self, command: str, param: bytes | None, *, api: bool, now: float
              ) -> AtReply | None:
        if api:
            # D-FSCMD p.228: FS commands "only work from Command mode; they are not valid
            # for API mode". Status 1 (ERROR) is our choice (A-ATFS-API).
            return ERROR
        text = param.decode("ascii", "replace").strip() if param else ""
        if not text:
            return AtReply(text=BANNER)
        verb, *args = text.split()
        handler = self._verbs.get(verb.upper())  # xbee-python sends them lower-case (L-PY)
        if handler is None:
            return _error_line(Reason.BAD_PARAM.ecode, f"Unknown FS command {verb[:16]}")
        try:
            return handler(args, now)
        except FsError as exc:
            log.debug("ATFS %s: %s", verb.upper(), exc)
            return AtReply(text=exc.atfs_line)

    @staticmethod
    def _need(args: list[str], n: int, usage: str) -> None:
        if len(args) != n:
            raise FsError(Reason.BAD_PARAM, usage, f"usage: ATFS {usage}")

    def _pwd(self, args: list[str], now: float) -> AtReply:
        return AtReply(text=self.cwd)

    def _cd(self, args: list[str], now: float) -> AtReply:
        self._need(args, 1, "CD directory")
        entry = self.flash.stat(args[0], self.cwd)
        if not entry.is_dir:
            raise FsError(Reason.NOT_DIR, args[0])
        self.cwd = entry.path
        return AtReply(text=self.cwd)  # D-FSCMD: "Prints the current working directory"

    def _md(self, args: list[str], now: float) -> AtReply:
        self._need(args, 1, "MD directory")
        self.flash.mkdir(args[0], self.cwd)
        return AtReply(text=DONE)  # D-FSCMD: "Prints OK if successful"

    def _ls(self, args: list[str], now: float) -> AtReply:
        if len(args) > 1:
            self._need(args, 1, "LS [directory]")
        target = args[0] if args else "."  # D-FSCMD: "defaults to a period"
        entries = self.flash.listdir(target, self.cwd)
        lines = [f"{'<DIR>':>{LS_WIDTH}} ./", f"{'<DIR>':>{LS_WIDTH}} ../"]  # D-FSCMD example
        lines += [self._ls_line(e) for e in entries]
        lines.append("")  # D-FSCMD: "The list ends with a blank line"
        return AtReply(lines=tuple(lines))

    @staticmethod
    def _ls_line(entry: Entry) -> str:
        if entry.is_dir:
            return f"{'<DIR>':>{LS_WIDTH}} {entry.name}/"
        mark = SECURE_MARK if entry.secure else ""
        return f"{entry.size:>{LS_WIDTH}} {entry.name}{mark}"

    def _hash(self, args: list[str], now: float) -> AtReply:
        self._need(args, 1, "HASH filename")
        return AtReply(text=f"{HASH_PREFIX} {self.flash.hash(args[0], self.cwd).hex()}")

    def _rm(self, args: list[str], now: float) -> AtReply:
        self._need(args, 1, "RM file_or_directory")
        entry = self.flash.stat(args[0], self.cwd)
        if entry.is_dir and fspath.key(self.cwd + "/").startswith(fspath.key(entry.path + "/")):
            # D-FSCMD: RM "fails … if file_or_directory … refers to the current working
            # directory"
            raise FsError(Reason.BUSY, args[0])
        self.flash.remove(args[0], self.cwd)
        return AtReply(text=DONE)

    def _mv(self, args: list[str], now: float) -> AtReply:
        self._need(args, 2, "MV source destination")
        source = self.flash.stat(args[0], self.cwd)
        if source.is_dir and fspath.key(self.cwd + "/").startswith(fspath.key(source.path + "/")):
            raise FsError(Reason.BUSY, args[0])
        self.flash.rename(args[0], args[1], self.cwd)
        return AtReply(text=DONE)

    def _info(self, args: list[str], now: float) -> AtReply:
        # xbee-python reads `^ *([0-9]*) (.*)$` lines into {label: number} (L-PY); labels
        # follow 0x3B Volume Info's fields used/free/bad (L-PY VolStatCmdResponse), plus total.
        # ASSUMPTION A-ATFS-INFO.
        info = self.flash.info()
        rows = (("used", info.used), ("free", info.free), ("bad", info.bad),
                ("total", info.total))
        return AtReply(lines=tuple(f"{n:>{LS_WIDTH}} {label}" for label, n in rows))

    def _format(self, args: list[str], now: float) -> AtReply:
        if [a.lower() for a in args] != [FORMAT_CONFIRM]:
            raise FsError(Reason.BAD_PARAM, "FORMAT", "usage: ATFS FORMAT confirm")
        self.flash.format()
        self.cwd = fspath.FLASH
        return AtReply(text=DONE)

    # ----- YMODEM transfers ----------------------------------------------------------------

    def _put(self, args: list[str], now: float) -> AtReply | None:
        return self._receive(args, now, secure=False)

    def _xput(self, args: list[str], now: float) -> AtReply | None:
        return self._receive(args, now, secure=True)  # D-TLS p.100: keys go with XPUT

    def _receive(self, args: list[str], now: float, *, secure: bool) -> AtReply | None:
        verb = "XPUT" if secure else "PUT"
        self._need(args, 1, f"{verb} filename")
        path, room = self._destination(args[0])
        # the first EOT is NAKed where the personality says so (A-YMODEM-EOT)
        nak_first = bool(self.modem.personality.quirk("ymodem_nak_first_eot", False))
        receiver = ymodem.YmodemReceiver(max_size=room, nak_first_eot=nak_first)
        self._xfer = _Transfer(verb, path, secure, receiver)
        self.modem.take_uart(self)
        # D-FSCMD: the prompt, then the receiver's "C" (L-PY: the answer must end with C)
        self.modem.emit(ToHost(PUT_PROMPT.encode() + b"\r" + receiver.start(now)))
        return None

    def _destination(self, name: str) -> tuple[str, int]:
        """Where PUT stores `name` (checked before the transfer) and how many bytes fit."""
        path = self.flash.resolve(name, self.cwd)
        old = 0
        if self.flash.exists(path):
            entry = self.flash.stat(path)
            if entry.is_dir:
                raise FsError(Reason.IS_DIR, name)
            old = entry.size
        elif not self.flash.exists(fspath.parent(path)):
            raise FsError(Reason.NOT_FOUND, name, "no such directory")
        return path, self.flash.info().free + old

    def _get(self, args: list[str], now: float) -> AtReply | None:
        self._need(args, 1, "GET filename")
        data = self.flash.read(args[0], self.cwd)  # refuses secure files (D-3B SECURE)
        path = self.flash.stat(args[0], self.cwd).path
        sender = ymodem.YmodemSender(fspath.basename(path), data)
        self._xfer = _Transfer("GET", path, False, sender)
        self.modem.take_uart(self)
        self.modem.emit(ToHost(GET_PROMPT.encode() + b"\r" + GET_READY))
        sender.start(now)
        return None

    def on_uart(self, data: bytes, now: float) -> None:
        if self._xfer is None:
            return
        self._send(self._xfer.machine.feed(data, now))
        self._check_done()

    def tick(self, now: float) -> None:
        if self._xfer is None:
            return
        self._send(self._xfer.machine.tick(now))
        self._check_done()

    def next_deadline(self) -> float | None:
        return None if self._xfer is None else self._xfer.machine.next_deadline()

    def _send(self, out: bytes) -> None:
        if out:
            self.modem.emit(ToHost(out))

    def _check_done(self) -> None:
        xfer = self._xfer
        if xfer is None or not xfer.machine.done:
            return
        self._xfer = None
        reply = AtReply(text=DONE)
        if isinstance(xfer.machine, ymodem.YmodemReceiver) and xfer.machine.oversize:
            reply = AtReply(text=FsError(Reason.FULL, xfer.path).atfs_line)
        elif xfer.machine.error:
            # the YMODEM failure as an E-line (A-ATFS-ERRORS)
            log.info("ATFS %s %s: YMODEM failed: %s", xfer.verb, xfer.path, xfer.machine.error)
            reply = _error_line(Reason.IO.ecode, f"YMODEM transfer failed: {xfer.machine.error}")
        elif isinstance(xfer.machine, ymodem.YmodemReceiver):
            received = xfer.machine.result
            if received is None:  # the sender ended the batch without a file
                reply = _error_line(Reason.IO.ecode, "YMODEM transfer failed: no file sent")
            else:
                try:
                    self.flash.write(xfer.path, received.data, secure=xfer.secure)
                    log.info("ATFS %s %s: %d bytes stored", xfer.verb, xfer.path,
                             len(received.data))
                except FsError as exc:
                    reply = AtReply(text=exc.atfs_line)
        self.modem.release_uart()
        self.modem.finish_at(reply)

    def on_reset(self) -> None:
        """FR / power cycle: the transfer is gone and the CWD is /flash again (D-FSCMD)."""
        self._xfer = None
        self.cwd = fspath.FLASH
