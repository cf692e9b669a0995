"""The replay device: a cassette served on a pty (or TCP / RFC 2217), one per test.

`ReplayServer` hosts a `Player` (`harness.replay.player`) with the simulator's host server
(`SimServer`: the same pty / TCP / RFC 2217 machinery as the simulator), so the device layer
cannot tell it from a module. A deck (`harness.replay.cassette.Deck`: a directory with one
cassette per test) is served by loading each test's cassette in turn (`load`, then `finish`
for its verdict). CLI: `python -m harness.replay serve FILE|DIR --pty`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.replay import standin
from harness.replay.matchers import Matchers
from harness.replay.player import Player, Verdict, _Engine, load_script
from harness.replay.script import Step, fold_repeats
from harness.replay.standin import StandIn
from harness.sim.core.effects import Effect
from harness.sim.host.server import SimServer
from harness.xbee import at


class _Wake:
    """An event posted to the server loop so a newly loaded cassette starts at once."""


class _Poke:
    """The 'world' of a replay: no network; `poke()` wakes the server loop (world contract,
    docs/design.md "The world": `post(event)` reaches `handle` on the loop thread)."""

    def __init__(self) -> None:
        self._post: Callable[[Any], None] | None = None

    def start(self, post: Callable[[Any], None]) -> _Poke:
        self._post = post
        return self

    def idle(self) -> bool:  # nothing in flight: a replay's world does nothing
        return True

    def perform(self, effect: Effect) -> None:  # a replay never asks the world for anything
        pass

    def poke(self) -> None:
        if self._post is not None:
            self._post(_Wake())

    def close(self) -> None:
        self._post = None


class ReplayServer:
    """A replay device on a pty (or TCP / RFC 2217), one cassette per test.

    ```
    with ReplayServer(speed=0) as replay:
        port = replay.start_pty()          # open it with device.transport.open_device
        replay.load(cassette_path(d, id))  # NoCassette → skip; CaptureError → file:line
        ...the test runs...
        verdict = replay.finish()          # Verdict; verdict.check() raises on failure
    ```
    """

    def __init__(
        self,
        cassette: str | Path | None = None,
        *,
        speed: float = 0.0,
        matchers: Matchers | None = None,
        baudrate: int = 9600,
        fold_polls: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self.speed = speed
        self.matchers = matchers or Matchers()
        self.fold_polls = fold_polls  # runs of identical exchanges play once (fold_repeats)
        self._engine = _Engine(at.bd_value(baudrate))
        self._world = _Poke()
        kw: dict[str, Any] = {"clock": clock} if clock is not None else {}
        # `clock`: a host's warping clock to share (A-CLOCK-WARP); see `quiet`
        self._server = SimServer(self._engine, self._world, uart_pacing=False, **kw)  # type: ignore[arg-type]
        if cassette is not None:
            self.load(cassette)

    # --- ports (SimServer's) ---
    def start_pty(self, link: str | Path | None = None) -> str:
        return self._server.start_pty(link)

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        return self._server.start_tcp(host, port)

    def start_rfc2217(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        return self._server.start_rfc2217(host, port)

    # --- one test ---
    def load(self, path: str | Path, stand_ins: Iterable[StandIn] = ()) -> list[Step]:
        """Play `path` from now on (a cassette still loaded is dropped: call finish first).
        `stand_ins`: keys the recording kept as SHA-256 only, played as the stand-ins the
        harness uploads instead (`harness.replay.standin`)."""
        steps = standin.apply(load_script(path), stand_ins)
        if self.fold_polls:
            steps = fold_repeats(steps, self.matchers)
        player_path = Path(path)

        def install(engine: Any) -> None:
            engine.player = Player(
                steps, cassette=player_path, speed=self.speed, matchers=self.matchers,
                now=self._server.sim_now(),
            )  # fmt: skip

        self._server.call(install)
        self._world.poke()
        return steps

    def finish(self) -> Verdict:
        """The loaded cassette's verdict; the device then answers nothing until the next load."""

        def take(engine: Any) -> Verdict:
            player: Player | None = engine.player
            engine.player = None
            if player is None:
                return Verdict(True, "idle", "no cassette was loaded")
            return player.finish(self._server.sim_now())

        verdict: Verdict = self._server.call(take)
        if self._server.error is not None:  # the serving loop died: say so, whatever happened
            why = f"replay device stopped: {self._server.error!r}"
            return Verdict(False, "error", f"{why}\n{verdict.report}", verdict.cassette,
                           verdict.used, verdict.steps)  # fmt: skip
        return verdict

    @property
    def done(self) -> bool:
        """The loaded cassette is used up or failed (False when none is loaded)."""
        return bool(self._server.call(lambda e: e.player is not None and e.player.done))

    @property
    def failure(self) -> str | None:
        """The loaded cassette's mismatch report so far (None while it matches), without
        finishing it: a harness that just timed out can say why the device went silent."""
        return self._server.call(lambda e: None if e.player is None else e.player.failure)

    def quiet(self) -> tuple[int, int, float] | None:
        """The server's `quiet()`: what a warping host clock may skip to."""
        return self._server.quiet()

    def nudge(self) -> None:
        self._server.nudge()

    @property
    def error(self) -> BaseException | None:
        return self._server.error

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
