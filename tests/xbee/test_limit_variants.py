"""The TLS-limit variants' expectations come from each firmware family's TLS limits."""

from __future__ import annotations

import pytest

from harness import variants
from harness.servers import LONG_CN
from harness.xbee import firmware as fw


@pytest.mark.parametrize(
    ("name", "ltem", "cat1", "unknown"),
    [
        ("ecdhe-only-server", "tls_handshake", "ok", "tls_handshake"),
        ("long-cn", "tls_handshake", "ok", "tls_handshake"),
        ("sni-required", "tls_handshake", "tls_handshake", "tls_handshake"),
        ("pkcs8-key", "tls_config", "tls_config", "tls_config"),
        ("client-cert", "tls_config", "ok", "ok"),  # v3 refused on LTE-M (D-TLS-101)
        ("client-cert-v1", "ok", "ok", "ok"),  # what LTE-M takes (A-TLS-CLIENT-V3)
    ],
)
def test_expectation_per_family(name, ltem, cat1, unknown):
    v = variants.get(name)
    assert (v.expect_for(fw.LTEM_114), v.expect_for(fw.CAT1_3100), v.expect_for(None)) == (
        ltem, cat1, unknown,
    )  # fmt: skip


def test_a_family_that_reads_pkcs8_expects_the_key_to_work():
    import dataclasses

    family = dataclasses.replace(fw.CAT1_3100, tls=fw.TlsLimits(key_formats=("pkcs1", "pkcs8")))
    assert variants.get("pkcs8-key").expect_for(family) == variants.OK


def test_long_cn_is_over_the_limit():
    assert len(LONG_CN) == variants.LONG_CN_LENGTH > fw.LTEM_114.tls.max_server_cn
