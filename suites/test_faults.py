"""The resilience suite: the failures users report most (field-evidence §3), caused on purpose.

For each named fault (`xbee-sim --list-faults`, harness/sim/core/faults.py) the harness must
report the module's code and a reason a person understands within its bound, bring the module
back (as every reset of the run, by the profile's `device.reset`: FR with `at`, a power cycle
where it names a switch, or stop the run with one reason), and leave it so the next test
passes. Faults that need the simulator are `sim_only`. The faults a host causes by itself
run everywhere (the last section): a server that is down, one that resets mid-response, one
slower than any timeout, a name that does not resolve; against the profile's
`fault_targets:` on a bench, the loopback servers of harness/servers/faulty.py on the
simulator.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

import pytest

from harness.device.command import guard_silence
from harness.device.errors import DeviceError, NetworkNotReady
from harness.xbee import api, codes

# How long a test waits for registration while a fault holds the module off the network,
# in real seconds (the simulator's fast timing registers in about 0.1 s).
SHORT_WAIT = 0.5
# How long a query may go unanswered before the module counts as silent (real seconds).
PROBE = 0.5
# The harness's bound for a failed request beyond its first-byte wait: the CI read (an
# escape into command mode at the module's guard time) or the module's own answer.
BOUND_MARGIN = 5.0


def _ai(xbee) -> int:
    return xbee.port.module.read(["AI"])["AI"]


def _module_s(xbee, seconds: float) -> float:
    """`seconds` of the module's time in the device clock's seconds (A-STALE-MODULE-TIME)."""
    return seconds * xbee.port.module.time_scale


def _wait_module(xbee, seconds: float) -> None:
    """Let `seconds` of the module's time pass, on the device's clock (a warping clock skips
    it when nothing can happen; a real one waits it at either timing)."""
    xbee.port.module.tap.clock.sleep(_module_s(xbee, seconds))


def _poll(xbee, what, until: float = 3.0, step: float = 0.02):
    """`what()` until it is truthy or `until` clock seconds pass (the device's clock); the
    last value."""
    clock = xbee.port.module.tap.clock
    end = clock.now() + until
    value = what()
    while not value and clock.now() < end:
        clock.sleep(step)
        value = what()
    return value


def _fault_url(xbee, name: str) -> str:
    """The endpoint of a host-side fault: the simulator's, or the profile's fault_targets."""
    url = xbee.port.urls.get(name)
    if url is None:
        pytest.skip(f"the profile names no fault_targets.{name.replace('-', '_')}: a bench "
                    f"endpoint for the {name} fault (python -m harness.servers.faulty)")
    return url


def _within_bound(xbee, took: float) -> None:
    bound = xbee.port.first_byte_timeout + BOUND_MARGIN
    assert took < bound, f"the harness took {took:.1f} s to report, over its {bound:.1f} s bound"


def _recovered_and_next_request_passes(xbee, xbee_faults) -> None:
    """The module settled (no connection left, A-LEFTOVER) or back by the profile's reset,
    set up for the test again, and answering."""
    how = xbee_faults.settle()
    assert how in ("settled", xbee_faults.reset_how), how
    if how != "settled":
        xbee_faults.reconfigure()
    ok = xbee.get(xbee.port.urls["http"], record=False)  # the cell keeps the fault's codes
    assert ok.status == 200, ok.summary()


def _http_url(xbee, host: str | None = None) -> str:
    """The local HTTP server's URL, reached by `host` (a name for the DNS) when given."""
    url = urlsplit(xbee.port.urls["http"])
    if host is None:
        return url.geturl()
    return url._replace(netloc=f"{host}:{url.port or 80}").geturl()


# ----- registration (§3 #3) -------------------------------------------------------------------


@pytest.mark.sim_only
@pytest.mark.xbee_fault("registration-stuck")
def test_registration_stuck_is_reported_and_recovered(xbee, xbee_faults):
    with pytest.raises(NetworkNotReady) as err:
        xbee.port.configurator.wait_registered(SHORT_WAIT)
    assert err.value.ai == 0x22, str(err.value)
    assert "registering" in str(err.value).lower(), str(err.value)
    xbee_faults.clear()
    assert xbee_faults.recover() == xbee_faults.reset_how  # the profile's way: FR or its switch


@pytest.mark.sim_only
@pytest.mark.xbee_fault("registration-denied")
def test_registration_denied_is_reported_and_recovered(xbee, xbee_faults):
    with pytest.raises(NetworkNotReady) as err:
        xbee.port.configurator.wait_registered(SHORT_WAIT)
    assert err.value.ai == 0x25, str(err.value)
    assert "denied" in str(err.value).lower(), str(err.value)
    xbee_faults.clear()
    xbee_faults.recover()


@pytest.mark.sim_only
@pytest.mark.xbee_modes("api")
@pytest.mark.xbee_fault("deregister-after:2")
def test_deregistration_is_seen_and_the_module_registers_again(xbee, xbee_faults):
    client = xbee.port.module.api()
    seen = _poll(xbee, lambda: [r for r in client.take_unsolicited()
                                if isinstance(getattr(r, "frame", None), api.ModemStatus)],
                 until=3.0 + _module_s(xbee, 2.0))  # the drop comes 2 module seconds in
    statuses = [r.frame.status for r in seen]
    assert 0x03 in statuses, f"no 0x8A 0x03 (unregistered) after the network dropped: {seen}"
    assert "unregistered" in codes.describe("MODEM", 0x03).lower(), codes.describe("MODEM", 3)
    # it registers again by itself (LTE-M: 10 s registering, 3 s connecting, module time)
    xbee.port.configurator.wait_registered(5.0 + _module_s(xbee, 30.0))


# ----- DNS (§3 #4) ----------------------------------------------------------------------------


@pytest.mark.sim_only
@pytest.mark.xbee_modes("transparent")
@pytest.mark.xbee_fault("dns-flaky:1")
def test_dns_flaky_fails_with_its_code_then_answers(xbee, xbee_faults):
    first = xbee.get(_http_url(xbee, "google.com"))
    assert first.status is None, first.summary()
    ci = first.code("ci")
    assert ci is not None and ci.value == 0x25, first.summary()
    assert "dns" in str(ci).lower(), str(ci)
    second = xbee.get(_http_url(xbee, "google.com"))
    assert second.status == 200, second.summary()


@pytest.mark.sim_only
@pytest.mark.xbee_modes("transparent")
@pytest.mark.xbee_fault("dns-slow:600")
def test_dns_slow_is_reported_within_the_bound(xbee, xbee_faults):
    start = time.monotonic()
    result = xbee.get(_http_url(xbee, "google.com"))
    took = time.monotonic() - start
    assert result.status is None, result.summary()
    assert result.error, result.summary()
    assert took < xbee.port.first_byte_timeout + 5.0, f"the harness waited {took:.1f} s"
    xbee_faults.clear()
    assert xbee.get(_http_url(xbee)).status == 200


# ----- freeze and brown-out (§3 #5) -----------------------------------------------------------


@pytest.mark.sim_only
@pytest.mark.xbee_modes("api")
@pytest.mark.xbee_fault("freeze-after:0")
def test_freeze_is_reported_and_power_cycled(xbee, xbee_faults):
    with pytest.raises(DeviceError) as err:
        xbee.port.module.api().at("AI", timeout=PROBE)
    assert "no response" in str(err.value), str(err.value)
    assert xbee_faults.recover() == "power cycle"
    assert _ai(xbee) == 0


@pytest.mark.sim_only
@pytest.mark.xbee_modes("api")
@pytest.mark.xbee_fault("brownout-after:50")
def test_brownout_resets_to_saved_settings(xbee, xbee_faults):
    """A reset nobody asked for: values not saved with WR are gone (AP with them, so the
    host must find the mode again), and the harness brings the module back."""
    module = xbee.port.module
    saved = module.read(["DE"])["DE"]
    written = saved ^ 0x1234
    module.write({"DE": written})  # not saved with WR
    _wait_module(xbee, 60.0)  # past the brown-out (50 module seconds), at any timing
    try:  # before any recovery: the module itself lost the unsaved value
        answer = module.api().at("DE", timeout=PROBE)
    except DeviceError:
        pass  # AP went back to its saved value with the rest: the reset took API mode away
    else:
        assert int.from_bytes(answer.value, "big") != written, "no reset happened"
    assert xbee_faults.recover() == xbee_faults.reset_how
    # the value the reset went back to is flash's: the DE read at the start may itself be an
    # earlier test's unsaved setting (the fixture does not WR), so only `written` is wrong
    assert module.read(["DE"])["DE"] != written, "DE survived a reset it should not"


# ----- sockets (§3 #7) ------------------------------------------------------------------------


@pytest.mark.sim_only
@pytest.mark.xbee_modes("api")
@pytest.mark.xbee_fault("tls-closed-mid-handshake")
def test_tls_closed_mid_handshake_reports_0x76(xbee, xbee_faults):
    result = xbee.get(xbee.port.urls["https"])
    tx = result.code("tx_status")
    assert result.status is None, result.summary()
    assert tx is not None and tx.value == 0x76, result.summary()
    assert "closed unexpectedly" in str(tx).lower(), str(tx)


@pytest.mark.sim_only
@pytest.mark.xbee_modes("api")
@pytest.mark.xbee_fault("pdp-deactivated")
def test_pdp_deactivated_reports_0x8a(xbee, xbee_faults):
    result = xbee.get(_http_url(xbee))
    tx = result.code("tx_status")
    assert result.status is None, result.summary()
    assert tx is not None and tx.value == 0x8A, result.summary()
    assert "pdp" in str(tx).lower(), str(tx)
    xbee.port.configurator.wait_registered(5.0)
    assert xbee.get(_http_url(xbee)).status == 200


@pytest.mark.sim_only
@pytest.mark.xbee_modes("api")
@pytest.mark.xbee_fault("server-reset-mid-response")
def test_server_reset_mid_response_is_incomplete(xbee, xbee_faults):
    result = xbee.get(_http_url(xbee))
    assert not result.complete, result.summary()
    assert result.error, result.summary()


# ----- command mode and baud (§3 #6, #10) -----------------------------------------------------


@pytest.mark.sim_only
@pytest.mark.xbee_modes("transparent")
@pytest.mark.xbee_fault("wrong-baud")
def test_wrong_baud_shows_the_garbage_and_is_recovered(xbee, xbee_faults):
    """forum 20971: after a BD change "it responds with a three-byte sequence: 0x1C 0x1C
    0xFC" — the module's OK at another rate."""
    with pytest.raises(DeviceError) as err:
        xbee.port.module.command().run("VR", timeout=PROBE)
    said = str(err.value)
    assert "last bytes: b''" not in said and "\\x" in said, said  # garbage, not silence
    xbee_faults.clear()
    xbee_faults.recover()
    assert _ai(xbee) == 0


@pytest.mark.sim_only
@pytest.mark.xbee_modes("transparent")
@pytest.mark.xbee_fault("command-mode-overflow:16", "dns-slow:5")
def test_command_mode_overflow_loses_the_rest(xbee, xbee_faults):
    """MS-396: a reply that comes while the host sits in command mode is lost past the
    module's buffer. The slow DNS lets the host be in command mode when it comes: at least
    5 s of the module's time, and longer than the host's way into command mode (a guard
    silence each side of `+++` and its answer, in real time) at any time scale."""
    url = urlsplit(_http_url(xbee, "google.com"))
    module = xbee.port.module
    entry = 2 * guard_silence(module.guard_time) + 0.2  # real s; 0.2 for the OK and slack
    lookup = max(5, math.ceil(entry / _module_s(xbee, 1.0)))  # module s
    xbee_faults.set("command-mode-overflow:16", f"dns-slow:{lookup}")  # the marker's, longer
    xbee.port.configurator.apply({"IP": 1, "DL": url.hostname, "DE": url.port})
    module.data()
    module.tap.write(b"GET / HTTP/1.1\r\nHost: google.com\r\nConnection: close\r\n\r\n")
    clock = module.tap.clock
    end = clock.now() + _module_s(xbee, lookup + 5.0)  # past the lookup and the reply's trip
    while clock.now() < end:  # the host stays in command mode (each query renews CT)
        module.command().run("AI")
        clock.sleep(0.02)
    module.leave_command()
    got = module.tap.drain(quiet=0.2, limit=2.0)
    assert got.startswith(b"HTTP/1.1 200"), got
    assert len(got) == 16, f"{len(got)} bytes of the reply reached the host: {got!r}"
    xbee.port.forget()


# ----- host-side faults: a bench causes these itself (issue 11 item 6) ----------------------
# No simulator fault: a real far end fails, so these run on a module, the simulator and the
# bench rehearsal alike. The module's code is judged by the firmware family's table when the
# family is known, else by Digi's generic meaning of the code.


def _code_of(xbee, result):
    code = result.code(xbee.code_kind)
    assert code is not None, f"the harness reported no module code: {result.summary()}"
    return code


def _is(xbee, code, family_reason: codes.Reason) -> bool:
    if xbee.family is not None:
        return code.value in xbee.family.expected(family_reason, xbee.code_kind)
    return codes.generic_reason(xbee.code_kind, code.value) is family_reason


@pytest.mark.xbee_modes("transparent", "api")
def test_host_server_down_is_refused_with_its_code(xbee, xbee_faults):
    """A port nothing listens on: CI 0x26 / TX 0x80 (D-CI, D-89; the family's `refused`)."""
    url = _fault_url(xbee, "server-down")
    start = time.monotonic()
    result = xbee.get(url)
    _within_bound(xbee, time.monotonic() - start)
    assert result.status is None, result.summary()
    code = _code_of(xbee, result)
    assert _is(xbee, code, codes.Reason.REFUSED), result.summary()
    assert "refused" in str(code).lower(), str(code)
    _recovered_and_next_request_passes(xbee, xbee_faults)


@pytest.mark.xbee_modes("transparent", "api")
def test_host_server_reset_mid_response_is_incomplete(xbee, xbee_faults):
    """Part of a 200, then an RST: the response is incomplete, the harness says where it
    stopped; in transparent mode CI says the connection was lost (D-CI 0x27)."""
    url = _fault_url(xbee, "server-reset")
    start = time.monotonic()
    result = xbee.get(url)
    _within_bound(xbee, time.monotonic() - start)
    assert not result.complete, result.summary()
    assert result.error and "stalled after" in result.error, result.summary()
    code = _code_of(xbee, result)
    if xbee.mode == "transparent":
        assert _is(xbee, code, codes.Reason.CLOSED_BY_PEER), result.summary()
        assert "lost" in str(code).lower(), str(code)
    _recovered_and_next_request_passes(xbee, xbee_faults)


@pytest.mark.xbee_modes("transparent", "api")
def test_host_slow_server_is_reported_within_the_bound(xbee, xbee_faults):
    """A server that answers later than anyone waits: no response, reported within the
    harness's first-byte wait, with the code the module gave."""
    url = _fault_url(xbee, "slow-server")
    start = time.monotonic()
    result = xbee.get(url)
    _within_bound(xbee, time.monotonic() - start)
    assert result.status is None, result.summary()
    assert result.error and "no response within" in result.error, result.summary()
    _code_of(xbee, result)
    _recovered_and_next_request_passes(xbee, xbee_faults)


@pytest.mark.xbee_modes("transparent", "api")
def test_unresolvable_name_is_reported(xbee, xbee_faults):
    """A name no DNS knows (RFC 2606 .invalid, or the profile's): CI 0x25 in transparent
    mode (the name goes in DL); in API mode the harness's ATLA lookup fails."""
    url = _fault_url(xbee, "unresolvable")
    start = time.monotonic()
    result = xbee.get(url)
    _within_bound(xbee, time.monotonic() - start)
    assert result.status is None, result.summary()
    if xbee.mode == "transparent":
        ci = _code_of(xbee, result)
        assert _is(xbee, ci, codes.Reason.DNS), result.summary()
        assert "dns" in str(ci).lower(), str(ci)
    else:
        assert "ATLA" in (result.error or ""), result.summary()
    _recovered_and_next_request_passes(xbee, xbee_faults)
