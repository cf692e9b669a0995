"""HTTPS over the module: every mode × every TLS certificate set-up of `harness.variants`.

A set-up that must work answers 200. One that must fail fails cleanly: no response, and a
code from the set the module's firmware gives for that reason (CI in transparent mode,
the 0x89 TX status in API mode), with its meaning in the report.
"""

from __future__ import annotations

from harness import variants


def test_https_get(xbee, https_target, tls_variant):
    variant = variants.get(tls_variant)
    result = xbee.get(https_target)

    if variant.expects_success:
        assert result.status == 200, f"{variant.name} ({variant.basis}): {result.summary()}"
        assert result.complete and result.body
        return
    assert result.status is None, f"{variant.name} should fail: {result.summary()}"
    code = result.code(xbee.code_kind)
    assert code is not None, f"no {xbee.code_kind} reported: {result.summary()}"
    expected = xbee.expected_codes(variant.expect)
    if expected:
        assert code.value in expected, (
            f"{variant.name}: {code} is not what this firmware gives for {variant.expect} "
            f"({', '.join(f'0x{c:02X}' for c in sorted(expected))})"
        )
    else:  # a module whose firmware the harness has no table for: any failure code
        assert code.value not in (0x00, 0xFF), f"{variant.name}: {code} is not a failure"
