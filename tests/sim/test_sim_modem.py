"""The pure Modem: explicit `now` values, no sleeps, no I/O."""

from __future__ import annotations

import pytest

from harness.sim.core import personality
from harness.sim.core.effects import (
    ConnectionFailed,
    DataReceived,
    Failure,
    OpenConnection,
    Protocol,
    Reset,
    ToHost,
)
from harness.sim.core.feature import AtReply, Feature
from harness.sim.core.modem import Modem
from harness.xbee import api, frames

GT = 1.0  # default guard time, s (D-GT 0x3E8 ms)
CT = 10.0  # default command-mode timeout, s (D-ENTER 0x64 x 100 ms)


def host_bytes(effects) -> bytes:
    return b"".join(e.data for e in effects if isinstance(e, ToHost))


def host_frames(effects, *, escaped: bool = False) -> list:
    d = frames.Deframer(escaped=escaped)
    out = [api.parse(f.data) for f in d.feed(host_bytes(effects)) if isinstance(f, frames.RawFrame)]
    assert not d.pending
    return out


def at_frame(cmd: str, param: bytes = b"", fid: int = 1, *, queue: bool = False,
             escaped: bool = False) -> bytes:
    cls = api.ATCommandQueue if queue else api.ATCommand
    return api.encode(cls(fid, cmd, param), escaped=escaped)


def api_at(m: Modem, cmd: str, param: bytes = b"", now: float = 100.0, **kw):
    replies = [f for f in host_frames(m.feed(at_frame(cmd, param, **kw), now),
                                      escaped=kw.get("escaped", False))
               if isinstance(f, api.ATCommandResponse)]
    assert len(replies) == 1, replies
    return replies[0]


class Recorder(Feature):
    """A feature that records what the core hands it."""

    name = "recorder"
    frame_types = (0x20,)
    at_commands = ("LA",)

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.frames: list = []
        self.events: list = []
        self.applied: list[set[str]] = []
        self.registrations: list[bool] = []
        self.resets = 0
        self.deferred = False

    def on_transparent_data(self, data: bytes, now: float) -> None:
        self.data.append(data)

    def on_frame(self, frame, now: float) -> None:
        self.frames.append(frame)
        self.modem.emit(OpenConnection(self.modem.new_conn_id(), Protocol.TCP, "1.2.3.4", 80))

    def on_at(self, command, param, *, api, now):
        if self.deferred:
            return None
        return AtReply(value=b"\x01\x02\x03\x04", text="1.2.3.4")

    def on_event(self, event, now: float) -> None:
        self.events.append(event)

    def on_params_applied(self, changed, now):
        self.applied.append(changed)

    def on_registration(self, registered, now):
        self.registrations.append(registered)

    def on_reset(self):
        self.resets += 1


def transparent(**kw) -> tuple[Modem, Recorder]:
    rec = Recorder()
    m = Modem("cat1-3100C", features=[rec], **kw)
    m.power_on(0.0)
    return m, rec


def enter_command_mode(m: Modem, t: float) -> float:
    """Guarded +++ at t; returns the time OK came."""
    assert m.feed(b"+++", t) == []
    out = m.tick(t + GT)
    assert host_bytes(out) == b"OK\r"
    assert m.in_command_mode
    return t + GT


# ----- command mode entry (D-ENTER, D-GT, D-CC) -------------------------------------------------


def test_guarded_escape_enters_command_mode_exactly_after_gt():
    m, rec = transparent()
    m.feed(b"x", 10.0)
    m.feed(b"++", 11.0)  # silence before == GT: allowed (>= GT)
    m.feed(b"+", 11.5)
    assert m.next_deadline() == pytest.approx(12.5)
    assert host_bytes(m.tick(12.499)) == b""
    assert not m.in_command_mode
    assert host_bytes(m.tick(12.5)) == b"OK\r"
    assert m.in_command_mode
    assert rec.data == [b"x"]  # the + bytes were not data


def test_escape_too_soon_after_data_is_data():
    m, rec = transparent()
    m.feed(b"hello", 10.0)
    m.feed(b"+++", 10.999)  # silence before < GT
    assert host_bytes(m.tick(20.0)) == b""
    assert not m.in_command_mode
    assert b"".join(rec.data) == b"hello+++"


def test_escape_followed_by_data_is_data_in_order():
    m, rec = transparent()
    m.feed(b"+++", 10.0)
    m.feed(b"A", 10.5)  # silence after < GT
    m.tick(20.0)
    assert not m.in_command_mode
    assert b"".join(rec.data) == b"+++A"


def test_slow_plus_characters_are_data():
    m, rec = transparent()
    m.feed(b"+", 10.0)
    m.feed(b"+", 10.6)
    m.feed(b"+", 11.0)  # third one GT after the first: not "within GT"
    m.tick(30.0)
    assert not m.in_command_mode
    assert b"".join(rec.data) == b"+++"


def test_lone_plus_is_released_as_data_after_gt():
    m, rec = transparent()
    m.feed(b"+", 10.0)
    assert rec.data == []
    assert m.next_deadline() == pytest.approx(11.0)
    m.tick(11.0)
    assert rec.data == [b"+"]


def test_gt_and_cc_changes_apply_after_cn():
    m, _ = transparent()
    t = enter_command_mode(m, 10.0)
    assert host_bytes(m.feed(b"ATGT64,CC2D\r", t)) == b"OK\rOK\r"
    assert host_bytes(m.feed(b"ATCN\r", t)) == b"OK\r"
    m.feed(b"---", t + 0.2)  # GT now 100 ms, CC '-'
    assert host_bytes(m.tick(t + 0.3)) == b"OK\r"


def test_escape_works_in_api_mode_and_nothing_is_parsed_meanwhile():
    m = Modem("cat1-3100C", ap=1, features=[])
    m.power_on(0.0)
    m.tick(100.0)
    t = enter_command_mode(m, 101.0)
    assert host_bytes(m.feed(at_frame("VR"), t)) == b""  # a frame is not a command line
    assert host_bytes(m.feed(b"\rATAP\r", t)) == b"ERROR\r1\r"
    assert host_bytes(m.feed(b"ATCN\r", t)) == b"OK\r"
    assert api_at(m, "VR", now=t + 1).value == b"\x03\x10\x0c"


# ----- command mode lines (D-CMD) -----------------------------------------------------------


def test_query_set_and_comma_chain_one_reply_per_command():
    m, _ = transparent()
    t = enter_command_mode(m, 10.0)
    assert host_bytes(m.feed(b"ATAP\r", t)) == b"0\r"
    assert host_bytes(m.feed(b"ATGT\r", t)) == b"3E8\r"
    assert host_bytes(m.feed(b"ATNIMy XBee,DE0x1BB,AC\r", t)) == b"OK\rOK\rOK\r"
    assert host_bytes(m.feed(b"ATNI\r", t)) == b"My XBee\r"
    assert host_bytes(m.feed(b"atde\r", t)) == b"1BB\r"
    assert host_bytes(m.feed(b"AT\r", t)) == b"OK\r"


def test_errors_stop_the_chain():
    m, _ = transparent()
    t = enter_command_mode(m, 10.0)
    assert host_bytes(m.feed(b"ATZZ\r", t)) == b"ERROR\r"
    assert host_bytes(m.feed(b"ATAP3\r", t)) == b"ERROR\r"  # 3 = N/A (D-AP)
    assert host_bytes(m.feed(b"ATVR1\r", t)) == b"ERROR\r"  # read-only
    assert host_bytes(m.feed(b"ATGTzz,NIx\r", t)) == b"ERROR\r"
    assert host_bytes(m.feed(b"ATNI\r", t)) == b" \r"  # NIx never ran
    assert host_bytes(m.feed(b"hello\r", t)) == b"ERROR\r"


def test_cn_leaves_and_rest_of_chunk_is_data():
    m, rec = transparent()
    t = enter_command_mode(m, 10.0)
    assert host_bytes(m.feed(b"ATCN\rDATA", t)) == b"OK\r"
    assert not m.in_command_mode
    assert rec.data == [b"DATA"]


def test_ct_timeout_leaves_command_mode_and_applies():
    m, rec = transparent()
    t = enter_command_mode(m, 10.0)
    m.feed(b"ATNIabc\r", t + 5.0)
    assert m.next_deadline() == pytest.approx(t + 5.0 + CT)
    m.tick(t + 5.0 + CT - 0.001)
    assert m.in_command_mode
    assert host_bytes(m.tick(t + 5.0 + CT)) == b""  # no output on timeout
    assert not m.in_command_mode
    assert m.param("NI") == "abc"
    assert rec.applied[-1] == {"NI"}


def test_nothing_is_forwarded_while_in_command_mode():
    m, rec = transparent()
    rec.modem.emit(OpenConnection(rec.modem.new_conn_id(), Protocol.TCP, "1.2.3.4", 80))
    assert isinstance(m.tick(5.0)[0], OpenConnection)  # drained by the next call
    t = enter_command_mode(m, 10.0)
    m.feed(b"ATAP\r", t)
    rec.modem.deliver(b"from network")
    assert host_bytes(m.tick(t + 1)) == b""
    out = m.feed(b"ATCN\r", t + 2)
    assert host_bytes(out) == b"OK\rfrom network"


def test_changes_wait_for_ac():
    m, rec = transparent()
    t = enter_command_mode(m, 10.0)
    m.feed(b"ATNIabc\r", t)
    assert m.value("NI") == "abc"  # a query shows the written value
    assert m.param("NI") == " "  # features see it only after AC
    m.feed(b"ATAC\r", t)
    assert m.param("NI") == "abc"
    assert rec.applied == [{"NI"}]


# ----- API mode (D-08, D-09, D-88) ------------------------------------------------------------


def api_modem(name: str = "cat1-3100C", ap: int = 1, **kw) -> Modem:
    m = Modem(name, ap=ap, features=kw.pop("features", []), **kw)
    m.power_on(0.0)
    m.tick(100.0)
    return m


def test_power_up_in_api_mode_sends_modem_status_0():
    m = Modem("cat1-3100C", ap=1, features=[])
    assert host_bytes(m.power_on(0.0)) == bytes.fromhex("7E 00 02 8A 00 75")  # D-EX-BLU


def test_0x08_statuses_and_frame_id_zero():
    m = api_modem()
    assert api_at(m, "ZZ").status == 2  # invalid command (D-88)
    assert api_at(m, "AP", b"\x03").status == 3  # invalid parameter
    assert api_at(m, "VR", b"\x01").status == 3  # read-only
    assert host_bytes(m.feed(at_frame("NI", b"x", fid=0), 100.0)) == b""  # D-08
    assert m.param("NI") == "x"
    r = api_at(m, "BD", b"\x07", fid=0x52)
    assert (r.frame_id, r.command, r.status, r.value) == (0x52, "BD", 0, b"")


def test_vector_ci_query_reply_is_the_reference_bytes():
    rec = Recorder()
    m = api_modem(features=[rec])
    assert api_at(m, "CI").value == b"\xff"  # no known status yet (§8)
    rec.modem.set_status("CI", 0x26)
    out = m.feed(bytes.fromhex("7E 00 04 08 01 43 49 6A"), 100.0)  # §2.2 COMPUTED query CI
    assert host_bytes(out) == bytes.fromhex("7E 00 06 88 01 43 49 00 26 C4")  # §2.4


def test_0x09_values_wait_for_0x08_or_ac():
    m = api_modem()
    assert api_at(m, "NI", b"queued", queue=True).status == 0
    assert api_at(m, "NI", queue=True).value == b" "  # D-09: not applied, queries answer now
    assert m.param("NI") == " "
    api_at(m, "AC")
    assert m.param("NI") == "queued"
    api_at(m, "DE", b"\x01\xbb", queue=True)
    api_at(m, "VR")  # any 0x08 applies what is queued (D-09)
    assert m.param("DE") == 0x1BB


def test_ap_change_takes_effect_after_the_reply():
    m = api_modem()
    r = api_at(m, "AP", b"\x02")
    assert r.status == 0
    assert m.ap == 2
    esc = api_at(m, "SH", escaped=True)  # 00 13 A2 00: 0x13 must be escaped (D-ESC)
    assert esc.value == b"\x00\x13\xa2\x00"
    raw = host_bytes(m.feed(at_frame("SH", fid=2, escaped=True), 100.0))
    assert b"\x7d\x33" in raw


def test_wr_persists_across_fr_and_rest_resets():
    m = api_modem()
    api_at(m, "NI", b"saved")
    api_at(m, "WR")
    api_at(m, "DE", b"\x00\x50")
    assert m.nvm == {"AP": 1, "NI": "saved"}
    api_at(m, "FR", now=200.0)
    assert m.next_deadline() == pytest.approx(200.1)  # A-FR-DELAY
    out = m.tick(200.1)
    assert any(isinstance(e, Reset) for e in out)
    assert host_frames(out)[0] == api.ModemStatus(0)
    assert m.param("NI") == "saved"
    assert m.param("DE") == 0  # not saved: back to default
    assert m.ai == 0xFF  # registration starts again
    again = Modem("cat1-3100C", nvm=m.nvm, features=[])
    assert (again.param("NI"), again.param("AP")) == ("saved", 1)


def test_re_restores_defaults_until_wr():
    m = api_modem()
    api_at(m, "NI", b"x")
    api_at(m, "WR")
    api_at(m, "RE")  # an 0x08 applies at once: AP is back to 0 (transparent) too
    assert m.param("NI") == " " and m.ap == 0
    assert m.nvm == {"AP": 1, "NI": "x"}
    t = enter_command_mode(m, 200.0)
    assert host_bytes(m.feed(b"ATWR\r", t)) == b"OK\r"
    assert m.nvm == {}


def test_bad_nvm_is_rejected_with_the_key():
    with pytest.raises(ValueError, match="VR"):
        Modem("cat1-3100C", nvm={"VR": 1}, features=[])
    with pytest.raises(ValueError, match="BD"):  # 921600 needs firmware after *13 (D-BD)
        Modem("cat1-3100C", nvm={"BD": 0xA}, features=[])
    assert Modem("ltem-11415", nvm={"BD": 0xA}, features=[]).param("BD") == 0xA


# ----- identity per personality (digi-xbee-notes §2a) ----------------------------------------


@pytest.mark.parametrize("name", personality.available())
def test_identity_in_both_interfaces(name):
    p = personality.load(name)
    m = api_modem(name)
    vr = api_at(m, "VR").value
    assert int.from_bytes(vr, "big") == p.identity["VR"]
    hv = api_at(m, "HV").value
    assert len(hv) == 2 and hv[0] == p.identity["HV"] >> 8
    im = api_at(m, "IM").value
    assert im.isdigit() and len(im) == 15
    assert len(api_at(m, "MY").value) == 4
    assert len(api_at(m, "SH").value + api_at(m, "SL").value) == 8
    assert api_at(m, "NI").value  # digi-xbee needs a non-empty NI
    t = enter_command_mode(m, 200.0)
    text = host_bytes(m.feed(b"ATVR\rATHV\rATMY\rATIM\r", t)).decode().split("\r")
    assert text[0] == f"{p.identity['VR']:X}"
    assert text[1] == f"{p.identity['HV']:X}"
    assert text[2] == p.network["MY"]  # dotted in command mode (L-TG)
    assert text[3] == p.identity["IM"]


def test_hv_first_byte_matches_the_product():
    assert personality.load("cat1-3100C").identity["HV"] >> 8 == 0x49  # L-PY hw.py
    assert personality.load("ltem-11415").identity["HV"] >> 8 == 0x4B


# ----- registration (§3.3, D-8A) -----------------------------------------------------------------


def test_registration_timeline_and_modem_status():
    p = personality.load("cat1-3100C")
    reg = p.registration
    rec = Recorder()
    m = Modem(p, ap=1, features=[rec])
    m.power_on(0.0)
    assert m.ai == 0xFF
    t1 = reg.initializing_s
    assert m.next_deadline() == pytest.approx(t1)
    m.tick(t1)
    assert m.ai == 0x22
    t2 = t1 + reg.registering_s
    m.tick(t2)
    assert m.ai == 0x23
    assert api_at(m, "MY", now=t2).value == b"\0\0\0\0"  # no address before registration
    out = m.tick(t2 + reg.connecting_s)
    assert m.ai == 0x00
    assert host_frames(out) == [api.ModemStatus(0x02)]
    assert rec.registrations == [True]
    assert api_at(m, "AI", now=t2 + 5).value == b"\x00"
    assert api_at(m, "MY", now=t2 + 5).value == bytes(map(int, p.network["MY"].split(".")))


def test_airplane_mode_unregisters_and_back():
    m = api_modem()
    assert m.registered
    r = host_frames(m.feed(at_frame("AM", b"\x01"), 100.0))
    assert r[0].status == 0 and r[1] == api.ModemStatus(0x03)
    assert m.ai == 0x2A
    api_at(m, "AM", b"\x00", now=101.0)
    assert m.ai == 0x22
    m.tick(200.0)
    assert m.registered


def test_zero_registration_time_is_instant():
    p = personality.load("cat1-3100C")
    text = p.path.read_text().replace("initializing_s: 2.0", "initializing_s: 0") \
        .replace("registering_s: 4.0", "registering_s: 0").replace("connecting_s: 2.0",
                                                                   "connecting_s: 0")
    fast = personality.loads(text, "fast.yaml")
    m = Modem(fast, ap=1, features=[])
    out = host_frames(m.power_on(0.0))
    assert out == [api.ModemStatus(0x00), api.ModemStatus(0x02)]


# ----- the feature seam ------------------------------------------------------------------------


def test_features_get_their_frames_commands_and_events():
    rec = Recorder()
    m = api_modem(features=[rec])
    tx = api.encode(api.TXRequestIPv4(1, "1.2.3.4", 80, 0, 1, 0, b"x"))
    out = m.feed(tx, 100.0)
    assert isinstance(rec.frames[0], api.TXRequestIPv4)
    opened = [e for e in out if isinstance(e, OpenConnection)]
    assert len(opened) == 1
    conn = opened[0].conn_id
    m.handle(DataReceived(conn, b"hi"), 101.0)
    m.handle(ConnectionFailed(conn, Failure.REFUSED), 102.0)
    m.handle(DataReceived(conn, b"late"), 103.0)  # no owner after the failure: dropped
    assert rec.events == [DataReceived(conn, b"hi"), ConnectionFailed(conn, Failure.REFUSED)]
    assert api_at(m, "LA", b"example.com").value == b"\x01\x02\x03\x04"


def test_deferred_at_answer_holds_the_chain():
    rec = Recorder()
    rec.deferred = True
    m = Modem("cat1-3100C", features=[rec])
    m.power_on(0.0)
    t = enter_command_mode(m, 10.0)
    assert host_bytes(m.feed(b"ATLAexample.com,AP\r", t)) == b""
    assert host_bytes(m.feed(b"ATVR\r", t)) == b""  # waits too
    rec.modem.finish_at(AtReply(text="1.2.3.4"))
    assert host_bytes(m.tick(t)) == b"1.2.3.4\r0\r3100C\r"


def test_code_mapping_is_per_personality():
    cat1 = Modem("cat1-3100C", features=[])
    ltem = Modem("ltem-11415", features=[])
    assert cat1.personality.code(Failure.TLS_AUTH, "ci") == 0x26  # F-HTTPS (assumption)
    assert ltem.personality.code(Failure.TLS_AUTH, "ci") == 0x2F  # D-CI
    assert ltem.personality.code(Failure.TLS_AUTH, "tx_status") == 0x8B  # D-89


def test_unknown_frames_are_dropped_silently_by_default():
    m = api_modem()
    assert host_bytes(m.feed(api.encode(api.GenericFrame(0x55, b"\x01")), 100.0)) == b""
    bad = bytearray(at_frame("VR"))
    bad[-1] ^= 0xFF
    assert host_bytes(m.feed(bytes(bad), 100.0)) == b""
    assert api_at(m, "VR").status == 0  # still in step after the bad frame
