"""The xbee-hil pytest plugin: the composition root (it imports every layer; nothing imports it).

`plugin` is the `pytest11` entry point; it loads `hooks` (every `pytest_*` hook) and
`fixtures` (every fixture). The rest is what they use: `options` (command line and the run's
state built from it), `session` (that state), `devices` (one class per device kind: simulator,
replay, bench), `simrig` (the simulator's bench), `matrix` (the axes and the outcome matrix),
`configured` (the module as a test sees it), `stats`, `budget`, `controls`, `restores`.
"""
