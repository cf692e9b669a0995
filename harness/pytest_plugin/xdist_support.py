"""pytest-xdist: a device is a resource, not a parameter to split across workers.

Every test that uses a device (`xbee_device_spec`, directly or through `xbee_port`) belongs
to the group named by the device spec string as given to `--device`: `sim`,
`sim:ltem-11415`, `rfc2217://…`, `labgrid:place1`. One group goes to one worker, so each
device is opened by one worker for the whole run and N devices run N-wide
(A-XDIST-DEVICE-GROUP). Tests without a device go to whichever worker is free. When xdist
runs tests (`-n N`) and the user chose no `--dist`, the run uses `loadgroup`, and the
plugin's scheduler does the grouping; a `--dist` the user chose is kept.

Why not xdist's own loadgroup as it is: its worker appends `@group` to `item._nodeid`, which
pytest 9.2's structured node ids ignore, so the groups silently vanish (pytest-xdist issue
#1386; its maintainers want the groups carried beside the ids, not in them). So the groups
travel beside the ids, and node ids stay exactly those of a serial run:
- controller, `pytest_cmdline_main` (a wrapper: its first half runs before xdist's own
  tryfirst implementation, which turns `dist == "no"` into `"load"` when `-n` is given)
  notes whether the user chose a `--dist`; `pytest_configure` (after the harness's session
  is built, so a run that does not use the plugin keeps xdist's default) makes an unchosen
  `load` `loadgroup`. xdist reads `dist` again only when its session starts the workers
  and when it makes the scheduler.
- controller, `pytest_configure_node` (an xdist hook, before each worker starts): the
  worker's `workerinput` gets a folder for the groups. A worker parses the command line
  afresh, so `workerinput` is the channel xdist gives the controller.
- worker: the `xdist_group` marks are added (tryfirst, before xdist's own hook), xdist's
  id mangling is switched off (`config.option.loadgroup = False`), and at collection finish
  (tryfirst, before xdist sends the ids) `{nodeid: group}` goes to `<folder>/<worker>.json`.
- controller, `pytest_xdist_make_scheduler` (firstresult; xdist's own is trylast): a
  `LoadScopeScheduling` whose scope of a node id is its group. It is asked only once every
  worker has sent its collection, so every worker's file is there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.session import DeviceSpec, session_of

GROUP_MARK = "xdist_group"
DEVICE_FIXTURE = "xbee_device_spec"
GROUPS_KEY = "xbee_hil_groups"  # in each worker's workerinput: the folder for its groups
_GROUPS_DIR = pytest.StashKey[Path]()
_DIST_CHOSEN = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Any:
    """Note whether the user chose a `--dist`, before xdist turns "none" into `load`."""
    option = config.option
    config.stash[_DIST_CHOSEN] = not (
        getattr(option, "numprocesses", None)
        and getattr(option, "dist", None) == "no"
        and not getattr(option, "distload", False)
    )
    return (yield)


@pytest.hookimpl(trylast=True)  # the session is built by hooks.py's tryfirst configure
def pytest_configure(config: pytest.Config) -> None:
    """A run of the harness with `-n N` and no `--dist`: `loadgroup` (a run the plugin has
    no session for keeps xdist's own default). A `--dist` the user chose that spreads a real
    module's tests over workers: one line."""
    session = session_of(config)
    if session is None or hasattr(config, "workerinput"):
        return
    dist = getattr(config.option, "dist", "no")
    if not config.stash.get(_DIST_CHOSEN, True) and dist == "load":
        config.option.dist = dist = "loadgroup"  # before the workers start (session start)
    if dist in ("no", "loadgroup"):
        return
    real = [d.raw for d in session.devices if not d.simulated]
    if real and getattr(config.option, "numprocesses", None):
        session.notices.append(
            f"--dist {dist} may give two workers the same module ({', '.join(real)}): a "
            "module serves one at a time; leave --dist out (loadgroup: one worker per device)"
        )


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown without xdist
def pytest_configure_node(node: Any) -> None:
    """A loadgroup run: give the worker the folder where it says each test's group."""
    config = node.config
    if getattr(config.option, "dist", "no") != "loadgroup" or session_of(config) is None:
        return
    if _GROUPS_DIR not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="xbee-hil-groups-"))
        config.stash[_GROUPS_DIR] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    node.workerinput[GROUPS_KEY] = str(config.stash[_GROUPS_DIR])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The device groups' scheduler, when this run handed groups to its workers."""
    folder = config.stash.get(_GROUPS_DIR, None)
    if folder is None:
        return None
    from harness.pytest_plugin.xdist_sched import DeviceGroupScheduling

    return DeviceGroupScheduling(config, log, folder)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = session_of(config)
    if session is None or not hasattr(config, "workerinput"):  # xdist's mark: its workers only
        return
    for item in items:
        device = device_of(item, session.devices[0])
        if device is not None:
            item.add_marker(pytest.mark.xdist_group(name=device_group(device)))
    if GROUPS_KEY in getattr(config, "workerinput", {}):
        config.option.loadgroup = False  # the groups travel in a file, not in the node ids


@pytest.hookimpl(tryfirst=True)  # before xdist's worker sends the collected ids
def pytest_collection_finish(session: pytest.Session) -> None:
    folder = getattr(session.config, "workerinput", {}).get(GROUPS_KEY)
    if folder is None:
        return
    groups = {item.nodeid: group for item in session.items if (group := group_of(item))}
    worker = session.config.workerinput["workerid"]  # type: ignore[attr-defined]
    path = Path(folder) / f"{worker}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups), encoding="utf-8")
    tmp.replace(path)


def device_group(device: DeviceSpec) -> str:
    """The group (and lock) key of a device: its spec string as given to `--device`."""
    return device.raw


def device_of(item: pytest.Item, default: DeviceSpec) -> DeviceSpec | None:
    """The device a test uses, or None when it uses none (it may run on any worker)."""
    if DEVICE_FIXTURE not in getattr(item, "fixturenames", ()):
        return None
    params = getattr(getattr(item, "callspec", None), "params", {})
    device = params.get(DEVICE_FIXTURE)
    return device if isinstance(device, DeviceSpec) else default


def group_of(item: pytest.Item) -> str | None:
    """A test's group as xdist's loadgroup names it: its `xdist_group` names, sorted, joined
    with `_` (the user's own marks count too)."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers(GROUP_MARK)
    }
    return "_".join(sorted(names)) or None
