"""Record, replay, diff: cassettes (captures kept per test) served back and compared.

- `cassette`: where each test's cassette lives (naming), its `cassette` stamp, its PKI, a deck
- `matchers`: what may differ between a recording and a live run (a new matcher goes here)
- `script`: a cassette as steps (`expect` / `emit`), exchanges for comparing
- `uploads`: YMODEM uploads received live and judged by the file's hash
- `player`: plays a script against live bytes (sans-IO) and the Engine the sim host serves
- `device`: `ReplayServer`, the replay device on a pty / TCP / RFC 2217
- `diff`: where two cassettes of one test differ (`xbee-hil capture diff`)
- `python -m harness.replay serve|diff`

Nothing is imported here, so `harness.replay.diff` needs neither the simulator nor a pty.
"""
