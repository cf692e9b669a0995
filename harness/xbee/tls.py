"""The TLS profile string of `$0`/`$1`/`$2` and Digi's path rules for the files it names.

Pure: no file access. A profile is `ca;cert;key` (reference §5.2, D-TLS p.100); each field is
a file name that the module resolves against `/flash/cert` when it opens a TLS connection,
not when the profile is set ("It is not an error at configuration time to name a file that
does not yet exist", D-TLS). The TL command's numbers are kept in one table, `TL_VERSIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.xbee import fspath

CERT_DIR = fspath.CERT_DIR  # D-TLS p.100: plain names are "in the certs/ directory"
PROFILE_COUNT = 3  # D-TLS: $0, $1, $2; 0x23 and socket option 0x00 choose 0–2
DEFAULT_PROFILE = ";;"  # D-TLS p.100: default ";;" = encrypted, not authenticated
FIELD_SEPARATOR = ";"

# TL (SSL/TLS protocol version). The numbers are UNVERIFIED (reference §3.2, §10 item 1):
# one user writes `ATTL3 (TLS 1.2)` (F-AZ), XCTU shows a "TLSv1.2" choice (F-HTTPS). We
# assume 0..3 count up from SSLv3 like that user's 3 = TLS 1.2, and 3 is the default.
# ASSUMPTION A-TL-VALUES (docs/assumptions.md). Values are the names `effects.TlsSettings`
# carries ("TLSv1.2"); `ssl.TLSVersion[name.replace(".", "_")]` is the Python member.
TL_VERSIONS: dict[int, str] = {
    0: "SSLv3",  # A-TL-VALUES
    1: "TLSv1",  # A-TL-VALUES
    2: "TLSv1.1",  # A-TL-VALUES
    3: "TLSv1.2",  # F-AZ: "ATTL3 (TLS 1.2)"
}
TL_DEFAULT = 3  # A-TL-VALUES: XCTU showed TLSv1.2 as set on a module (F-HTTPS)


class ProfileError(ValueError):
    """A profile string or a path that cannot be what the module accepts; says which and why."""


@dataclass(frozen=True, slots=True)
class TlsProfile:
    """The three fields of a `$n` profile, as typed (empty string = not given)."""

    ca: str = ""
    cert: str = ""
    key: str = ""

    @classmethod
    def parse(cls, text: str) -> TlsProfile:
        """`"ca;cert;key"` → profile. Missing trailing fields count as empty (A-TLS-FIELDS)."""
        fields = text.split(FIELD_SEPARATOR)
        if len(fields) > 3:
            raise ProfileError(
                f"TLS profile {text!r} has {len(fields)} fields; the format is ca;cert;key"
            )
        fields += [""] * (3 - len(fields))
        return cls(*(f.strip() for f in fields))

    def format(self) -> str:
        """The string as the module stores it: always two separators (`;;` when empty)."""
        return FIELD_SEPARATOR.join((self.ca, self.cert, self.key))

    @property
    def authenticated(self) -> bool:
        """A CA is named, so the server is checked (D-TLS: empty CA ⇒ not authenticated)."""
        return bool(self.ca)

    def paths(self) -> tuple[str | None, str | None, str | None]:
        """Each field resolved to an absolute /flash path (None where the field is empty)."""
        ca, cert, key = (resolve(f) if f else None for f in (self.ca, self.cert, self.key))
        return ca, cert, key


def resolve(name: str, cert_dir: str = CERT_DIR) -> str:
    """Digi's rule for a file named in a profile (D-TLS p.100, D-FS via `xbee.fspath`).

    A plain name is relative to `/flash/cert`; `../x` and `/flash/x` both mean `/flash/x`;
    a name without the leading slash is always relative, so `flash/cert/x` resolves to
    `/flash/cert/flash/cert/x` (inference from the rule, UNVERIFIED: A-TLS-RELPATH).
    Raises `ProfileError` for a bad name, a path outside `/flash` or one over 255 characters.
    """
    if not name:
        raise ProfileError("empty file name in TLS profile")
    try:
        return fspath.resolve(name, cert_dir)
    except fspath.PathError as exc:
        raise ProfileError(f"TLS profile file {name!r}: {exc.why}") from None


def tl_version(value: int) -> str:
    """TL number → version name ("TLSv1.2"); `ProfileError` for a number not in the table."""
    try:
        return TL_VERSIONS[value]
    except KeyError:
        raise ProfileError(
            f"TL={value} is not a known TLS version (known: {sorted(TL_VERSIONS)})"
        ) from None


def tl_value(version_name: str) -> int:
    """Inverse of `tl_version`: `"TLSv1.2"` (or `"TLSv1_2"`) → 3."""
    wanted = version_name.replace("_", ".")
    for value, name in TL_VERSIONS.items():
        if name == wanted:
            return value
    raise ProfileError(f"no TL value for TLS version {version_name!r}")
