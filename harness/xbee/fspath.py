"""Digi's path and name rules for the module's file system (reference §6.1, D-FS), pure.

One place for the rules, so the simulated file system (`sim.core.flash`), its ATFS and 0x3B
front ends, and anything that names a file on the module agree on what a path means:

- `/flash` is the only entry at the root; absolute paths start with `/` and must lie in it;
- every other path is relative to a current directory (`/flash` at start-up), `..` is the
  parent and `.` the current directory;
- names are case-insensitive, at most 64 characters of letters, digits, `.`, `-`, `_`, and
  a trailing period is ignored; the full absolute path is at most 255 characters.

`resolve` returns the absolute path with the case the caller typed (the file system keeps
the case a file was created with and compares with `key`).
"""

from __future__ import annotations

import re

ROOT = "/"
FLASH = "/flash"  # D-FS: "/flash, the only entry at the root level"
FLASH_NAME = "flash"
CERT_DIR = "/flash/cert"  # D-FS: "a cert directory for files used for SSL/TLS sockets"
LIB_DIR = "/flash/lib"  # D-FS: "a lib directory intended for MicroPython modules"
MAX_NAME = 64  # D-FS: "File and directory names are limited to 64 characters"
MAX_PATH = 255  # D-FS: "The full, absolute path … is limited to 255 characters"
_NAME = re.compile(r"[A-Za-z0-9._-]+")  # D-FS: letters, numbers, periods, dashes, underscores


class PathError(ValueError):
    """A path the module would refuse. `kind` is 'name', 'outside' or 'length'."""

    def __init__(self, path: str, why: str, kind: str) -> None:
        super().__init__(f"{path!r}: {why}")
        self.path = path
        self.why = why
        self.kind = kind


def clean_name(name: str, *, path: str | None = None) -> str:
    """One path component as the module stores it (trailing periods dropped, D-FS)."""
    where = name if path is None else path
    if not _NAME.fullmatch(name):
        raise PathError(where, f"name {name!r} may only hold letters, digits, '.', '-', '_'",
                        "name")
    stripped = name.rstrip(".")  # D-FS: "A period at the end of the name is ignored"
    if not stripped:
        raise PathError(where, f"name {name!r} is only periods", "name")
    if len(stripped) > MAX_NAME:
        raise PathError(where, f"name {stripped[:16]!r}… is longer than {MAX_NAME}", "name")
    return stripped


def split(path: str) -> tuple[str, ...]:
    """An absolute, resolved path → its components (`/` → ())."""
    return tuple(p for p in path.split("/") if p)


def join(parts: tuple[str, ...] | list[str]) -> str:
    return "/" + "/".join(parts)


def resolve(path: str, cwd: str = FLASH) -> str:
    """`path` (absolute, or relative to `cwd`) → a normalised absolute path, or PathError.

    `..` at the root stays at the root. The result is `/`, `/flash` or lies under `/flash`
    (spelled `flash` whatever case was typed).
    """
    if not path:
        raise PathError(path, "empty path", "name")
    parts: list[str] = [] if path.startswith("/") else list(split(cwd))
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(clean_name(comp, path=path))
    if parts:
        if parts[0].casefold() != FLASH_NAME:
            # D-FS: absolute paths "must start with /flash to be valid"
            raise PathError(path, f"{join(parts)!r} is outside {FLASH}", "outside")
        parts[0] = FLASH_NAME
    result = join(parts)
    if len(result) > MAX_PATH:
        raise PathError(path, f"full path longer than {MAX_PATH} characters", "length")
    return result


def key(path: str) -> str:
    """Comparison key: names are case-insensitive (D-FS)."""
    return path.casefold()


def parent(path: str) -> str:
    parts = split(path)
    return join(parts[:-1])


def basename(path: str) -> str:
    parts = split(path)
    return parts[-1] if parts else ""
