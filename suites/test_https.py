"""HTTPS over the module: every mode × every TLS certificate set-up of `harness.variants`.

A set-up that must work answers 200. One that must fail fails for its own reason: a code
whose reason family on this firmware (harness.xbee.firmware) is the variant's, judged with
the target's control (the variant that must succeed against the same server in the same
mode: its result reused, or run first). A failed control makes the must-fail cells
inconclusive instead of passed (harness.verdict).
"""

from __future__ import annotations

from harness import variants


def test_https_get(xbee, https_target, tls_variant):
    result = xbee.get(https_target)

    xbee.check(result)  # 200, or the variant's own failure reason with a good control
    if variants.get(tls_variant).expect_for(xbee.family) == variants.OK:
        assert result.complete and result.body
