"""HTTP over the module, in every mode the profile allows.

Transparent mode sends the request as serial data to DL:DE (the module opens the connection
on the first byte, D-TRANSP); API mode sends it in 0x20 frames and gets 0xB0 frames back
(D-20, D-B0). The response, its timings and the module's codes go to the report.
"""

from __future__ import annotations

import pytest

from harness.verdict import closed_after_response


def test_http_get(xbee, http_target, xbee_profile):
    result = xbee.get(http_target)

    expected = xbee_profile.targets["http"].expect_status if "http" in xbee_profile.targets else 200
    assert result.status == expected, result.summary()
    assert result.complete, result.summary()
    assert result.body, "the response has no body"
    if xbee.port.expected_body is not None:
        assert result.body == xbee.port.expected_body
    assert result.timings.first_byte is not None
    assert 0 < result.timings.first_byte <= result.timings.total
    if xbee.mode == "transparent":
        # D-TRANSP: CI 0 = the connection was made. The request says `Connection: close`,
        # so by the time CI is read the server may have closed it: the firmware's code
        # for a peer's close is as good an answer (its reason family, on any firmware).
        ci = result.code("ci")
        assert ci is not None, f"no CI after a good GET: {result.summary()}"
        assert closed_after_response(xbee.family, "ci", ci.value), f"CI after a good GET: {ci}"


@pytest.mark.requires("extended_sockets")
@pytest.mark.xbee_modes("api", "api-escaped")
def test_http_get_over_extended_socket(xbee, http_target):
    """The same GET through an extended socket (0x40 create, 0x42 connect → 0xC2 + 0xCF,
    0x44 send, 0xCD receive, 0x43 close: D-SF), on firmware x15 and later (L-C)."""
    result = xbee.get(http_target, via="socket")

    assert result.path == "socket", result.summary()
    assert result.status == 200, result.summary()
    assert result.complete and result.body
    status = result.code("socket_status")
    assert status is None or status.value == 0x00, f"0xCF: {status}"
