"""Loading a profile: YAML with marks, `extends:`, validation, errors at file:line.

Why the line numbers: a profile is hand-written and a typo must not cost a bench run. The YAML
is composed into PyYAML nodes (which keep their marks), turned into plain data with a map
from key path to (file, line, column), validated by pydantic (`extra="forbid"`), and every
pydantic error location is mapped back to the YAML line that caused it.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import ValidationError

from harness import yamlmarks
from harness.profiles.issues import Issue, Mark, Path_, ProfileError
from harness.profiles.schema import (
    BUILTIN_PROFILE_DIR,
    PATH_KEYS,
    PROFILE_SUFFIXES,
    SECRET_KEYS,
    Profile,
)
from harness.xbee import at

# ----- YAML with marks -----------------------------------------------------------------------


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, *yamlmarks.mark_of(node))


def _display(path: Path) -> str:
    """A path as the user typed it when it is relative to the cwd, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> tuple[Any, dict[Path_, Mark]]:
    """Load one YAML file into plain data plus a mark for every key path (and the root ()).

    Loaded with `harness.yamlmarks.SafeLoader`: no aliases, bounded nesting (A-YAML-SAFE)."""
    file = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError([Issue(file, None, None, "", "no such profile file")]) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            [Issue(file, None, None, "", f"not UTF-8 text (byte {exc.start}); is it a profile?")]
        ) from None
    except OSError as exc:
        raise ProfileError([Issue(file, None, None, "", f"cannot read: {exc}")]) from None
    try:
        loader = yamlmarks.SafeLoader(text)
    except yaml.YAMLError as exc:  # a NUL or other control character
        bad = yamlmarks.error(file, text, exc)
        raise ProfileError([Issue(file, bad.line, bad.column, "", bad.message)]) from None
    loader.name = file
    try:
        node = loader.get_single_node()
        if node is None:  # A-YAML-EMPTY: an empty file is a mistake, not "all defaults"
            raise ProfileError(
                [Issue(file, None, None, "", "empty profile (no YAML mapping in the file)")]
            )
        marks: dict[Path_, Mark] = {}
        data = _walk(loader, node, (), marks, file)
    except yaml.YAMLError as exc:
        bad = yamlmarks.error(file, text, exc)
        raise ProfileError([Issue(file, bad.line, bad.column, "", bad.message)]) from None
    finally:
        loader.dispose()
    return data, marks


def _walk(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path_, marks: dict[Path_, Mark], file: str
) -> Any:
    marks.setdefault(path, _mark(file, node))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<), as SafeLoader would
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = yamlmarks.mark_of(key_node)
                why = "a key must be a plain scalar"
                raise ProfileError([Issue(file, *where, _dotted(path), why)])
            key = loader.construct_object(key_node)
            if key in out:
                first = marks[(*path, key)]
                raise ProfileError(
                    [
                        Issue(
                            file,
                            *yamlmarks.mark_of(key_node),
                            _dotted((*path, key)),
                            f"duplicate key (first set at line {first.line})",
                        )
                    ]
                )
            marks[(*path, key)] = _mark(file, key_node)
            out[key] = _walk(loader, value_node, (*path, key), marks, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, (*path, i), marks, file) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out



# ----- loading -------------------------------------------------------------------------------


def find_profile(ref: str, search: tuple[Path, ...] = ()) -> Path:
    """A `--profile` value to a file: a path as given, else NAME(.yaml) in `profiles/` dirs.

    `search` lists directories to try first (the invocation dir's `profiles/`); the profiles
    shipped with the harness come last, so `--profile sim` works from anywhere.
    """
    direct = Path(ref).expanduser()
    if direct.is_file():
        return direct.resolve()
    if os.sep not in ref and "/" not in ref:
        names = [ref] if ref.endswith(PROFILE_SUFFIXES) else [ref + s for s in PROFILE_SUFFIXES]
        for directory in (*search, BUILTIN_PROFILE_DIR):
            for name in names:
                candidate = directory / name
                if candidate.is_file():
                    return candidate.resolve()
    raise ProfileError([Issue(ref, None, None, "", "no such profile file or profile name")])


def load_profile(path: str | Path) -> Profile:
    """Load, merge (`extends:`) and validate a profile. Raises `ProfileError`, nothing else."""
    path = Path(path).resolve()
    data, marks, chain = _load_chain(path, (), None)
    baseline, issues = _baseline_values(data.get("baseline"), marks, _display(path))
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        issues = _issues(exc, marks, _display(path)) + issues
    if issues:
        raise ProfileError(sorted(issues, key=lambda i: (i.file, i.line or 0, i.column or 0)))
    profile = profile.model_copy(update={"baseline": baseline})
    profile._source = path
    profile._chain = chain
    profile._marks = marks
    return profile


def check(path: str | Path) -> list[Issue]:
    """Every issue in a profile (empty when it is good); for `xbee-hil profile check`."""
    try:
        load_profile(path)
    except ProfileError as exc:
        return exc.issues
    return []


def _baseline_values(
    raw: Any, marks: dict[Path_, Mark], root_file: str
) -> tuple[dict[str, Any], list[Issue]]:
    """Each baseline value checked against its catalogue row (type, range, length) and
    normalised: a hex parameter written as text (`DE: 1BB`) is the number the module reads
    (D-CMD). Names the schema rejects are left to the schema's own message."""
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    if not isinstance(raw, dict):
        return values, issues
    for name, value in raw.items():
        row = at.CATALOGUE.get(name) if isinstance(name, str) else None
        if row is None or row.kind is at.Kind.COMMAND or isinstance(value, bool | list | dict):
            continue
        try:
            if row.kind is at.Kind.HEX and isinstance(value, str):
                value = at.parse_hex(value, what=f"AT{name}")
            values[name] = at.validate(name, value)
        except at.AtError as exc:
            mark = marks.get(("baseline", name))
            line, col = (mark.line, mark.column) if mark else (None, None)
            file = mark.file if mark else root_file
            shown = str(exc) if not row.secret else f"AT{name}: invalid value"
            issues.append(Issue(file, line, col, f"baseline.{name}", shown))
    return values, issues


def _load_chain(
    path: Path, stack: tuple[Path, ...], referrer: Mark | None
) -> tuple[dict[str, Any], dict[Path_, Mark], tuple[Path, ...]]:
    if path in stack:
        cycle = " -> ".join(_display(p) for p in (*stack[stack.index(path) :], path))
        if referrer is None:
            raise ProfileError([Issue(_display(path), None, None, "extends", f"cycle: {cycle}")])
        raise ProfileError(
            [Issue(referrer.file, referrer.line, referrer.column, "extends", f"cycle: {cycle}")]
        )
    data, marks = read_yaml(path)
    file = _display(path)
    if data is None or data == {}:
        m = marks[()]
        raise ProfileError(
            [Issue(file, m.line, m.column, "", "the profile is empty (name at least its targets)")]
        )
    if not isinstance(data, dict):
        m = marks[()]
        raise ProfileError([Issue(file, m.line, m.column, "", "a profile is a YAML mapping")])
    _resolve_paths(data, path.parent)
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, marks, (path,)
    where = marks[("extends",)]
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ProfileError(
            [Issue(file, where.line, where.column, "extends", "extends names one profile file")]
        )
    parent_path = _extends_target(path.parent, parent_ref)
    if parent_path is None:
        raise ProfileError(
            [Issue(file, where.line, where.column, "extends", f"no such profile: {parent_ref}")]
        )
    base, base_marks, chain = _load_chain(parent_path, (*stack, path), where)
    merged, merged_marks = _merge(base, base_marks, data, marks, ())
    return merged, merged_marks, (path, *chain)


def _extends_target(directory: Path, ref: str) -> Path | None:
    candidate = (directory / ref).resolve()
    if candidate.is_file():
        return candidate
    if not ref.endswith(PROFILE_SUFFIXES):
        for suffix in PROFILE_SUFFIXES:
            if (with_suffix := candidate.with_name(candidate.name + suffix)).is_file():
                return with_suffix
    return None


def _resolve_paths(data: dict[str, Any], directory: Path) -> None:
    """Target files are relative to the profile file that names them, not to the cwd."""
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return
    for target in targets.values():
        if not isinstance(target, dict):
            continue
        for key in PATH_KEYS:
            value = target.get(key)
            if isinstance(value, str) and value:
                target[key] = str((directory / Path(value).expanduser()).resolve())


def _merge(
    base: Any, base_marks: dict[Path_, Mark], child: Any, child_marks: dict[Path_, Mark], at: Path_
) -> tuple[Any, dict[Path_, Mark]]:
    """Deep-merge mappings; anything else in the child replaces the base (marks follow)."""
    marks = dict(base_marks) if at == () else base_marks
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            sub = (*at, key)
            if key in out:
                out[key], marks = _merge(out[key], marks, value, child_marks, sub)
            else:
                out[key] = value
                marks.update(_subtree(child_marks, sub))
            marks[sub] = child_marks[sub]
        return out, marks
    for key in [k for k in marks if k[: len(at)] == at and len(k) > len(at)]:
        del marks[key]
    marks.update(_subtree(child_marks, at))
    return child, marks


def _subtree(marks: dict[Path_, Mark], at: Path_) -> Iterator[tuple[Path_, Mark]]:
    return ((k, m) for k, m in marks.items() if k[: len(at)] == at)


_PYDANTIC_LOC_NOISE = re.compile(r"^(function-|\[key\]$|int$|str$|list\[|dict\[|tagged-union)")


def _issues(exc: ValidationError, marks: dict[Path_, Mark], root_file: str) -> list[Issue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        matched: Path_ = ()
        for part in loc:
            if (*matched, part) in marks:
                matched = (*matched, part)
        key_parts = list(matched)
        if error["type"] == "missing" and loc and loc[-1] not in key_parts:
            key_parts.append(loc[-1])
        mark = marks.get(matched) or marks.get(())
        key = _dotted(tuple(key_parts))
        message = _message(error, matched)
        if mark is None:
            issues.append(Issue(root_file, None, None, key, message))
        else:
            issues.append(Issue(mark.file, mark.line, mark.column, key, message))
    return issues


def _allowed_keys(path: Path_) -> list[str]:
    """The keys the schema takes at `path` (for "did you mean"), or [] when it cannot tell."""
    model: Any = Profile
    expect_key = False  # the previous part was a dict field: this part is a free name
    for part in path:
        if expect_key:
            expect_key = False
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model, expect_key = _unwrap(field.annotation)
    if expect_key or not hasattr(model, "model_fields"):
        return []
    return [*model.model_fields, *(["extends"] if model is Profile else [])]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The model a field holds (through Optional / Annotated / dict values / unions)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is dict:
        return _unwrap(get_args(annotation)[1])[0], True
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if hasattr(arg, "model_fields"):
                return arg, False
    return annotation, False


def _message(error: Mapping[str, Any], path: Path_) -> str:
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        if not allowed:
            return "unknown key"
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key ({hint}keys here: {', '.join(allowed)})"
    if kind == "missing":
        return "required key is missing"
    if any(p in SECRET_KEYS for p in path):
        return message  # never echo a secret
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(value, str | int | float):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        message += f" (got {shown})"
    return message
