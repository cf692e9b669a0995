"""A `$n` TLS profile as the module's TLS stack reads it: Digi's file rules over /flash.

Pure (the files come from the simulated /flash), so features resolve a profile when a
connection opens and the host (`harness.sim.host.tlsrules`) builds the real `ssl` context
from the result. Reference §5; the rules for the files themselves are in `xbee.tls`.
"""

from __future__ import annotations

from typing import Any

from harness.sim.core.effects import Failure, TlsSettings
from harness.xbee import tls as tlsprofile


class TlsConfigError(Exception):
    """The profile cannot be used: raised before any connection. `failure` is TLS_CONFIG."""

    def __init__(self, detail: str, failure: Failure = Failure.TLS_CONFIG) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


def load_profile(flash: Any, index: int, text: str, tl: int | None) -> TlsSettings:
    """A `$n` profile as the module's TLS stack reads it when a connection opens: each named
    file resolved by Digi's rules (`xbee.tls.resolve`) and read from the simulated /flash
    (secure files included: the module's own stack may read them). A missing or unreadable
    file, a bad path or a bad TL value is `TlsConfigError` (D-89 0x86 "missing file, and so
    forth"; D-TLS: naming a missing file is not an error until it is used).
    """
    try:
        profile = tlsprofile.TlsProfile.parse(text or tlsprofile.DEFAULT_PROFILE)
        paths = profile.paths()
        version = tlsprofile.tl_version(tl) if tl is not None else None
    except tlsprofile.ProfileError as exc:
        raise TlsConfigError(f"${index}: {exc}") from None
    data: list[bytes | None] = []
    for field, path in zip(("CA", "client certificate", "client key"), paths, strict=True):
        if path is None:
            data.append(None)
            continue
        if flash is None:
            raise TlsConfigError(f"${index}: {field} {path}: the module has no file system")
        try:
            data.append(bytes(flash.read_privileged(path)))
        except Exception as exc:  # FsError (not found, is a directory, …) or a host OSError
            raise TlsConfigError(f"${index}: {field} file {path}: {exc}") from None
    return TlsSettings(index, data[0], data[1], data[2], version)


def still_current(flash: Any, settings: TlsSettings | None, text: str, tl: int | None) -> bool:
    """Whether a connection made with `settings` may carry on: the `$n` text and TL give the
    same files with the same bytes now (ASSUMPTION A-TLS-REUSE: the module reuses an open TLS
    connection only while its profile — `$n`, TL and the certificate files' content — is
    unchanged; an unusable profile now means a new connection, which then fails)."""
    if settings is None:
        return True
    try:
        return load_profile(flash, settings.profile, text, tl) == settings
    except TlsConfigError:
        return False
