"""The forum thread (../shared/seed/forum-thread-https-xbee3-cat1.txt) as tests.

First post: XBee3 Cellular Cat 1, firmware 3100C, transparent mode, IP=4 (TLS), TL=TLS 1.2,
DL=google.com, DE=1BB, the site's own certificate uploaded as /flash/cert/wgc.crt and set as
`$0=wgc.crt;;`: the GET gets no response and CI reads 0x26. The reason the module has it:
a certificate that is not self-signed cannot be a trust anchor (D-TLS p.100), so the
handshake fails authentication; firmware 3100C reports that as 0x26 (F-HTTPS; assumption
A-CI-TLS-3100C in the personality). The poster also tried `flash/cert/wgc.crt;;`, which
resolves under /flash/cert (D-TLS p.100) to a file that does not exist.

Reply 1: "I have not gotten it to work in transparent mode … (my CI status ends up 0xFF)":
the same set-up failed, but the module wrote no code at all, so CI stays "No known status"
however long the user polls. The reply's module type is ambiguous (its "I'm using a
LTE-M/NB-IoT XBee3." may belong to reply 2), so the LTE-M personality does it by default as
an assumption (A-CI-TLS-FF); the harness then infers the reason family from the control.

Second post: API mode, frame 0x23, the root certificate at the top of the chain: works.
Third claim: transparent TLS needs a client certificate and key in `$0`. Digi's guide says
the opposite (D-TLS p.100); the simulator shows both answers, and only a run on hardware
can settle it, so the hardware test reports what the module did.
"""

from __future__ import annotations

import pytest

from harness.verdict import Control, Inconclusive, Verdict, judge, reasons_of
from harness.xbee.codes import TLS_REASONS
from harness.xbee.firmware import CI_NO_STATUS

FORUM_FIRMWARE = "cat1-3100C"
FORUM_FAMILY = "cat1-3100"
TLS_1_2 = 3  # F-AZ: ATTL3 = TLS 1.2 (A-TL-VALUES)


def _forum_settings(xbee) -> None:
    """IP=4, TL=TLS 1.2, DL=google.com, DE=1BB, as in the first post."""
    xbee.port.configurator.apply({"IP": 4, "TL": TLS_1_2, "DL": "google.com", "DE": 0x1BB})


@pytest.mark.xbee_modes("transparent")
@pytest.mark.tls_variants("leaf-as-ca")
def test_first_post_leaf_as_ca_is_refused(xbee, https_target, tls_variant):
    """CI 0x26 on the forum's firmware 3100C; other firmwares give their own code for the
    same reason (0x2F on LTE-M, D-CI)."""
    _forum_settings(xbee)
    result = xbee.get(https_target)

    assert result.status is None, f"the forum got no response: {result.summary()}"
    xbee.check(result)  # a TLS-authentication code, with the target's control reached
    ci = result.code("ci")
    if xbee.family is not None and xbee.family.name == FORUM_FAMILY:
        assert ci.value == 0x26, f"the forum's 3100C read CI 0x26, this run read {ci}"
    elif ci is not None and ci.value == CI_NO_STATUS:  # reply 1 (A-CI-TLS-FF)
        print(f"forum reply 1: CI stays 0xFF; the harness infers: {_judged(xbee, ci.value)}")


def _judged(xbee, ci: int) -> str:
    from harness.pytest_plugin.controls import control_for

    return judge("tls_auth", xbee.family, "ci", ci, None, control_for(xbee, "tls")).reason


SEED_FAILURES = (("first post", "cat1-3100C", 0x26), ("reply 1", "ltem-11415", CI_NO_STATUS))
USER_POLLS = 5  # CI read this many more times, a second apart: "however long they poll"


@pytest.mark.sim_only
@pytest.mark.own_simulator
def test_both_seed_failures_side_by_side(tmp_path, capsys, pytestconfig):
    """The thread's two failures against a real TLS server, with the leaf as CA in
    transparent mode: what the user sees (no response; CI 0x26 on 3100C, CI 0xFF on LTE-M
    however long they poll) and what the harness reports (the reason it can infer: from the
    code, from the API-mode-style control that reached the server, or "no known status")."""
    from harness.device.configure import Configurator
    from harness.device.files import Files
    from harness.device.http import Http
    from harness.device.module import Module
    from harness.pytest_plugin.simrig import rig_tap
    from harness.xbee import firmware

    rows = []
    warp = pytestconfig.getoption("xbee_clock", "warp") == "warp"
    for post, name, want in SEED_FAILURES:
        with rig_tap(name, tmp_path / name, warp=warp) as (rig, tap):
            module = Module(tap, guard_time=rig.guard_time, **rig.command_timing)
            try:
                conf = Configurator(module)
                conf.wait_registered(20)
                files = Files(module)
                files.put(rig.pki.read("root_ca"), "root.crt")
                files.put(rig.pki.read("server_cert"), "wgc.crt")  # the site's own leaf
                conf.apply({"IP": 4, "TL": TLS_1_2, "DL": "google.com", "DE": 0x1BB,
                            "$0": "root.crt;;"}, "transparent")  # fmt: skip
                http = Http(module)
                ok = http.get(rig.urls["https"], first_byte_timeout=2.0, read_ci=True)
                conf.apply({"$0": "wgc.crt;;"}, "transparent")
                seen = http.get(rig.urls["https"], first_byte_timeout=2.0, read_ci=True)
                polls = [module.command().get("CI") for _ in range(USER_POLLS)
                         if tap.clock.sleep(1.0) is None]  # fmt: skip
                module.data()
            finally:
                module.close()
        ci = seen.code("ci")
        assert ok.status == 200, f"{name}: the control (root CA) must answer: {ok.summary()}"
        assert seen.status is None, f"{name}: the forum got no response: {seen.summary()}"
        assert ci is not None and ci.value == want, f"{post} ({name}): {seen.summary()}"
        assert set(polls) == {want}, f"{post}: CI while the user polls: {polls}"
        family = firmware.identify(*_vr_hv(name))  # as the harness does, from VR and HV
        control = Control("root-ca", ok.status, "ci", ok.code("ci").value if ok.code("ci") else 0)
        with_control = judge("tls_auth", family, "ci", ci.value, None, control)
        alone = judge("tls_auth", family, "ci", ci.value, None, None)
        assert with_control.verdict is Verdict.PASS, with_control
        assert alone.verdict is Verdict.INCONCLUSIVE, alone
        rows.append((post, name, ci.value, with_control, alone))

    cat1, ltem = rows
    assert "refused" in cat1[3].cell  # 0x26: refused or TLS, the control decides
    assert "no known status" in ltem[3].cell and "no known status" in ltem[4].reason
    with capsys.disabled():
        for post, name, code, with_control, alone in rows:
            print(f"\n{post:10} {name:11} user sees: no response, CI 0x{code:02X}; harness: "
                  f"{with_control.reason} | without a control: {alone.reason}")


def _vr_hv(name: str) -> tuple[int, int]:
    from harness.sim.core import personality

    ident = personality.load(name).identity
    return ident["VR"], ident["HV"]


@pytest.mark.xbee_modes("transparent")
@pytest.mark.tls_variants("leaf-as-ca")
def test_first_post_path_without_slash_is_not_found(xbee, https_target, tls_variant):
    _forum_settings(xbee)
    xbee.port.configurator.apply({"$0": "flash/cert/wgc.crt;;"})
    result = xbee.get(https_target)

    assert result.status is None, result.summary()
    xbee.check(result, expect="tls_config")  # missing file: invalid TLS configuration


@pytest.mark.xbee_modes("api")
@pytest.mark.tls_variants("root-ca")
def test_second_post_api_0x23_with_root_ca_succeeds(xbee, https_target, tls_variant):
    _forum_settings(xbee)
    result = xbee.get(https_target)  # API mode: a 0x23 frame with TLS profile 0 (D-23)

    assert result.path == "tx-tls", f"sent via {result.path}, not frame 0x23"
    tx = result.code("tx_status")
    assert tx is not None and tx.value == 0x00, f"0x89 status: {tx}"
    assert result.status == 200, result.summary()
    assert result.body


@pytest.mark.sim_only
@pytest.mark.own_simulator
@pytest.mark.parametrize("quirk", [False, True], ids=["guide", "forum-claim"])
def test_transparent_tls_without_client_cert_both_answers(quirk, tmp_path, pytestconfig):
    """What each answer to the third claim looks like, on the simulator: with Digi's guide
    (quirk off) `;;` works; with the forum's claim (quirk on) it fails with the firmware's
    code. Reported as unconfirmed: the hardware test below settles it."""
    from harness.device.configure import Configurator
    from harness.device.http import Http
    from harness.device.module import Module
    from harness.pytest_plugin.simrig import rig_tap
    from harness.sim.core import personality
    from harness.sim.core.effects import Failure

    source = personality.load(FORUM_FIRMWARE).path.read_text(encoding="utf-8")
    mark = "transparent_tls_requires_client_cert: {value: false"
    assert mark in source, "the personality no longer has the quirk row"
    variant = tmp_path / f"{FORUM_FIRMWARE}.yaml"
    variant.write_text(source.replace(mark, mark.replace("false", str(quirk).lower())))

    warp = pytestconfig.getoption("xbee_clock", "warp") == "warp"
    with rig_tap(str(variant), tmp_path / "rig", warp=warp) as (rig, tap):
        module = Module(tap, guard_time=rig.guard_time, **rig.command_timing)
        try:
            conf = Configurator(module)
            conf.wait_registered(10)
            conf.apply({"IP": 4, "DL": "google.com", "DE": 0x1BB, "$0": ";;"}, "transparent")
            result = Http(module).get(rig.urls["https"], first_byte_timeout=1.0, read_ci=True)
        finally:
            module.close()
    ci = result.code("ci")
    assert ci is not None, result.summary()
    if quirk:
        assert result.status is None and ci.value not in (0x00, 0xFF), result.summary()
    else:  # connected (0x00), or already closed by the server after `Connection: close`
        family = personality.load(FORUM_FIRMWARE).family
        closed = family.code(Failure.CLOSED_BY_PEER.value, "ci")
        assert result.status == 200 and ci.value in (0x00, closed), result.summary()


@pytest.mark.hardware_only
@pytest.mark.xbee_modes("transparent")
@pytest.mark.tls_variants("no-ca")
def test_transparent_tls_without_client_cert_on_hardware(xbee, https_target, tls_variant):
    """Settles the forum's third claim: `$0=;;` in transparent mode on a real module.
    Only a TLS-family code is an answer: a DNS, route or registration failure (or none)
    says nothing about TLS, and the test is then inconclusive."""
    result = xbee.get(https_target)
    if result.status == 200:
        print("forum claim check: transparent TLS with $0=;; works without a client certificate")
        return
    ci = result.code("ci")
    reasons = reasons_of(xbee.family, "ci", ci.value) if ci is not None else frozenset()
    if not reasons & TLS_REASONS and not (xbee.family is None and ci and ci.value == 0x26):
        meaning = " or ".join(r.value for r in reasons) or "no code"
        raise Inconclusive(f"forum claim check: {ci or 'no CI'} means {meaning}, not a TLS "
                           "failure: the claim is neither confirmed nor refuted")
    ambiguous = " (this code also means refused)" if len(reasons) > 1 else ""
    print(f"forum claim check: transparent TLS with $0=;; fails ({ci}){ambiguous}")
    raise AssertionError(f"transparent TLS with ;; fails with a TLS code ({ci}){ambiguous}: "
                         "the forum's claim holds on this firmware")
