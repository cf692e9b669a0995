"""The xbee-hil pytest plugin: the composition root (it imports every layer; nothing imports it).

`plugin` is the `pytest11` entry point; it names the modules pytest registers: `options`
(options, markers, one fixture per option), `matrix` (the axes, each test's cell, its
fixtures), `hooks` (every `pytest_*` hook) and, at configure time, `fixtures` (the fixtures
that talk to a module). The rest is what they use: `session` (the run's state), `devices`
(one class per device kind: simulator, replay, bench), `port` (one opened module),
`configured` (the module as a test sees it), `simrig` (the simulator's bench), `stats`,
`budget`, `controls`, `restores`. docs/design.md says more.
"""
