"""YAML for hand-written files: a safe loader that refuses what a person never means, and
line numbers for error messages. Every YAML reader of the harness loads through here.

Why a loader of our own: PyYAML's SafeLoader follows aliases (`*name`), so ten lines of
nested aliases ("billion laughs") expand into gigabytes once anything walks the data, and a
few thousand `[` exhaust Python's recursion. Profiles, personalities and network configs
never need aliases (`extends:` is how a profile reuses another), so an alias is refused at
the line it appears, and nesting is bounded (A-YAML-SAFE). Every failure is a `YamlInputError`
whose `str()` is one line `file:line:col: message`.
"""

from __future__ import annotations

from typing import Any

import yaml

SYNTAX = "YAML syntax"  # how a scanner/parser error is labelled
MAX_DEPTH = 64  # mappings/sequences inside each other; the deepest shipped file has 4


class YamlInputError(ValueError):
    """A YAML text that cannot be used; one line naming the file and line."""

    def __init__(self, file: str, line: int | None, column: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        where = file
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}")


class Refused(yaml.composer.ComposerError):
    """Valid YAML this loader will not compose (an alias, too deep)."""


class SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases and with bounded nesting (A-YAML-SAFE). Constructing one
    on a text with a NUL or other control character raises `yaml.reader.ReaderError`."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise Refused(
                None, None,
                f"YAML alias *{event.anchor} is not allowed (aliases can expand without bound; "
                "write the value out)",
                event.start_mark,
            )  # fmt: skip
        nests = self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent)
        if nests and self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise Refused(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def error(file: str, text: str, exc: yaml.YAMLError, syntax: str = SYNTAX) -> YamlInputError:
    """A PyYAML error as one line at the file's line and column; `syntax` labels a
    scanner or parser error (each reader keeps the words its users know)."""
    if isinstance(exc, yaml.reader.ReaderError):  # a NUL or other control character
        row = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        what = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else "byte"
        return YamlInputError(file, row, column, f"{what} is not allowed in YAML text")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        return YamlInputError(
            file, line, col, problem if isinstance(exc, Refused) else f"{syntax}: {problem}"
        )
    return YamlInputError(
        file, None, None, f"YAML: {str(exc).splitlines()[0] if str(exc) else exc}"
    )


def compose(text: str, file: str, syntax: str = SYNTAX) -> yaml.Node | None:
    """The node tree of one YAML document (None when empty); `YamlInputError` when bad."""
    try:
        loader = SafeLoader(text)
    except yaml.YAMLError as exc:
        raise error(file, text, exc, syntax) from None
    loader.name = file
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        raise error(file, text, exc, syntax) from None
    finally:
        loader.dispose()


def load(text: str, file: str, syntax: str = SYNTAX) -> tuple[Any, yaml.Node | None]:
    """Plain data and the node tree (for `line_of`) of one YAML document."""
    node = compose(text, file, syntax)
    if node is None:
        return None, None
    loader = SafeLoader("")
    try:
        return loader.construct_document(node), node
    except yaml.YAMLError as exc:
        raise error(file, text, exc, syntax) from None
    finally:
        loader.dispose()


def read(path: Any, file: str | None = None, syntax: str = SYNTAX) -> tuple[Any, yaml.Node | None]:
    """`load` a file read as UTF-8; an unreadable or non-UTF-8 file is a `YamlInputError`."""
    file = file or str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise YamlInputError(file, None, None, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise YamlInputError(file, None, None, f"cannot read: {exc.strerror or exc}") from None
    return load(text, file, syntax)


def mark_of(node: yaml.Node) -> tuple[int, int]:
    """1-based (line, column) where a node starts."""
    return node.start_mark.line + 1, node.start_mark.column + 1


def line_of(node: yaml.Node | None, loc: Any, *, value: bool = False) -> int | None:
    """1-based line of the deepest key along a key path (mapping keys, sequence indexes), or
    of its value with `value=True`; None when the root is None. Best effort: stops at the
    first step it cannot follow."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if pair is None:
                break
            node = pair[1]
            line = (node if value else pair[0]).start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and str(part).isdigit():
            if int(part) >= len(node.value):
                break
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line
