"""The short option names (`--device`, `--profile`, `--baud`, `--record`, …) as aliases of
the plugin's `--xbee-*` options, added only where no other plugin owns them; and each
option's value from the command line, the environment or the ini file, in that order.

Why the aliases come late: pytest 9 adds every option to one argparse parser as it is
registered (`_pytest/config/argparsing.py`: `OptionGroup._addoption_inner` calls
`add_argument`), so a second `--device` raises argparse's "conflicting option string" in
whichever plugin registers second, and pytest stops (exit 3, even for `--help`); pytest 8
raised the same at parse time. Entry-point plugins load in no set order, and initial
conftests add their options after all of them. `Config._preparse` runs `-p` plugins, the
`pytest11` entry points and `PYTEST_PLUGINS`, then `pytest_load_initial_conftests`, then
the final `Parser.parse`: a wrapper of `pytest_load_initial_conftests` sees, after it ran,
every option any of them added, and its aliases are in place for the final parse and for
`--help`. What exists is read from `Parser._groups` (each `OptionGroup.options`,
`Argument.names()`): pytest has no public list of the options registered so far.
"""

from __future__ import annotations

import itertools
import os
import shlex
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.options import GROUP, OPTIONS, Option
from harness.pytest_plugin.session import DeviceSpecError

SOURCES = pytest.StashKey[dict[str, str]]()  # dest -> where its value came from
_TAKEN = pytest.StashKey[dict[str, str]]()  # alias -> the group that owns it


def option_strings(parser: pytest.Parser) -> dict[str, str]:
    """Every option string registered so far, with the name of the group that holds it."""
    owned: dict[str, str] = {}
    for group in getattr(parser, "_groups", ()):
        for argument in group.options:
            for name in argument.names():
                owned[name] = group.name
    return owned


def add_free_aliases(parser: pytest.Parser) -> dict[str, str]:
    """Add `--NAME` beside `--xbee-NAME` for every option whose short name is free; return
    the taken ones (alias -> the group that owns it)."""
    owned = option_strings(parser)
    group = parser.getgroup(*GROUP)
    taken: dict[str, str] = {}
    for opt in OPTIONS:
        if opt.alias in owned:
            if owned[opt.alias] != GROUP[0]:  # not ours from an earlier call
                taken[opt.alias] = owned[opt.alias]
            continue
        group.addoption(opt.alias, dest=opt.dest, default=None, help=f"= {opt.flag}", **opt.kwargs)
    return taken


def taken_line(taken: dict[str, str]) -> str:
    """The one warning line for the aliases another plugin owns."""
    by = {"_anonymous": "a plugin or conftest"}
    names = ", ".join(f"{alias} ({by.get(g, g)})" for alias, g in taken.items())
    use = ", ".join("--xbee-" + alias[2:] for alias in taken)
    return f"xbee-hil: warning: {names} already taken by another plugin: use {use}"


def _unclaim_values(early_config: pytest.Config, args: Sequence[str]) -> None:
    """The early parse (before the aliases exist) took `--device sim`'s `sim` for a test path;
    give it back, so the initial conftests are found from the real paths (or testpaths)."""
    namespace = getattr(early_config, "known_args_namespace", None)
    paths = list(getattr(namespace, "file_or_dir", None) or ())
    if not paths:
        return
    valued = {opt.alias for opt in OPTIONS if opt.takes_value}
    for flag, value in itertools.pairwise(args):
        if flag in valued and value in paths:
            paths.remove(value)
    namespace.file_or_dir = paths  # type: ignore[union-attr]


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    _unclaim_values(early_config, args)
    try:
        return (yield)
    finally:  # also when a conftest fails to import (pytest still shows --help then)
        early_config.stash[_TAKEN] = add_free_aliases(parser)


def pytest_configure(config: pytest.Config) -> None:
    """The taken aliases, in one line on stderr (also with --help); said once, by the xdist
    controller, not by each worker."""
    taken = taken_aliases(config)
    if taken and not hasattr(config, "workerinput"):
        print(taken_line(taken), file=sys.stderr)


def taken_aliases(config: pytest.Config) -> dict[str, str]:
    taken: dict[str, str] = config.stash.get(_TAKEN, {})
    return dict(taken)


# ----- values: command line > environment > ini > default -----------------------------------


def given_on_command_line(config: pytest.Config) -> str | None:
    """The first xbee option the command line gives (argparse's default is None)."""
    for opt in OPTIONS:
        if getattr(config.option, opt.dest, None) is not None:
            return opt.flag
    return None


def given_in_ini(config: pytest.Config) -> str | None:
    """The first `xbee_*` key the ini file sets."""
    for opt in OPTIONS:
        if config.getini(opt.dest):
            return f"ini {opt.dest}"
    return None


def resolve(config: pytest.Config) -> None:
    """Fill `config.option.xbee_*`: the command line, else `XBEE_*`, else the ini key, else the
    default. A bad value is a DeviceSpecError naming where it came from."""
    sources: dict[str, str] = {}
    ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
    for opt in OPTIONS:
        value = getattr(config.option, opt.dest, None)
        source = "command line"
        if value is None and (raw := os.environ.get(opt.env, "").strip()):
            value, source = _convert(opt, raw, opt.env, None), opt.env
        elif value is None and (raw_ini := config.getini(opt.dest)):
            source = f"ini {opt.dest}"
            value = _convert(opt, raw_ini, source, ini_dir)
        elif value is None:
            value, source = opt.default, "default"
        setattr(config.option, opt.dest, value)
        sources[opt.dest] = source
    config.stash[SOURCES] = sources


def with_origin(config: pytest.Config, message: str) -> str:
    """A message about `--NAME VALUE` whose value came from XBEE_* or the ini says so."""
    sources = config.stash.get(SOURCES, {})
    for opt in OPTIONS:
        source = sources.get(opt.dest, "command line")
        if message.startswith(opt.alias) and source not in ("command line", "default"):
            return f"{message} (from {source})"
    return message


def _convert(opt: Option, raw: str | list[str], where: str, ini_dir: Path | None) -> Any:
    words = raw if isinstance(raw, list) else shlex.split(raw) if opt.repeatable else [raw]
    shown = " ".join(words)
    choices = opt.kwargs.get("choices")
    if choices is not None:
        bad = [w for w in words if w not in choices]
        if bad:
            raise DeviceSpecError(
                f"{where}={shown}: {', '.join(bad)} is not one of {', '.join(choices)}"
            )
    if opt.repeatable:
        return words
    (word,) = words
    if opt.kwargs.get("type") is int:
        try:
            return int(word)
        except ValueError:
            raise DeviceSpecError(f"{where}={word}: not a number") from None
    if opt.kwargs.get("action") == "store_true":
        flag = word.lower()
        if flag not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise DeviceSpecError(f"{where}={word}: expected true or false")
        return flag in ("1", "true", "yes", "on")
    if ini_dir is not None and opt.path and _is_path(opt, word):
        return str(ini_dir / word)  # an ini file's paths are relative to it (A-CITIZEN-INI)
    return word


def _is_path(opt: Option, word: str) -> bool:
    """A profile NAME stays a name (looked up in profiles/); a path is joined to the ini's dir."""
    if opt.name != "profile":
        return True
    return "/" in word or os.sep in word or word.endswith((".yaml", ".yml"))
