"""What is wrong with a profile, and where: an `Issue` per problem at the file:line:column a
person must edit (`Mark`), all of them in one `ProfileError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a profile, at the place a person must edit."""

    file: str
    line: int | None
    column: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ProfileError(Exception):
    """A profile that cannot be used; `str()` is one `file:line:col: key: message` per issue."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

# A key path into the profile data: ("targets", "https", "url"), ("baseline", 0), ...
Path_ = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    file: str
    line: int
    column: int
