"""Protocol knowledge written once, in harness/xbee: the users in sim/ and device/ take it
from there (issue 12: one home for the IP protocol enum, status names, 0x3B commands, TL)."""

from __future__ import annotations

import enum

import pytest

from harness.device import files, http
from harness.sim.core import effects
from harness.sim.features import fsframes, ipframes, sockets, transparent
from harness.xbee import at, codes, tls


def test_ip_protocols_have_one_table() -> None:
    assert codes.IP_PROTOCOLS == {0: codes.IpProtocol.UDP, 1: codes.IpProtocol.TCP,
                                  4: codes.IpProtocol.TLS}  # fmt: skip
    assert effects.Protocol is codes.IpProtocol
    for users in (transparent.IP_PROTOCOLS, sockets.PROTOCOLS, ipframes.PROTOCOLS):
        assert users is codes.IP_PROTOCOLS
    assert (http.PROTOCOL_TCP, http.PROTOCOL_TLS) == (codes.IpProtocol.TCP, codes.IpProtocol.TLS)


def test_named_statuses_are_rows_of_their_tables() -> None:
    assert sockets.TX_NOT_BOUND is codes.TxStatus.SOCKET_NOT_BOUND
    assert ipframes.TX_INVALID_TLS is codes.TxStatus.INVALID_TLS_CONFIGURATION
    assert transparent.CI_NO_STATUS is http.CI_NO_STATUS is codes.CiStatus.NO_KNOWN_STATUS
    assert sockets.INVALID_PROTOCOL is codes.SocketStatus.INVALID_PROTOCOL
    assert fsframes.INVALID_COMMAND is codes.FsStatus.INVALID_COMMAND
    assert codes.lookup("TX", codes.TxStatus.SOCKET_NOT_BOUND).name == "SOCKET_NOT_BOUND"


def test_a_name_that_is_not_its_tables_row_is_refused_at_load() -> None:
    class Wrong(enum.IntEnum):
        SUCCESS = 0x01

    with pytest.raises(ValueError, match=r"Wrong\.SUCCESS"):
        codes._check_named(Wrong, codes.TX_STATUS)


def test_fs_commands_have_one_home() -> None:
    assert fsframes.Cmd is codes.FsCommand and fsframes.Open is codes.FsOpen
    assert not hasattr(files, "FS_OPEN")  # device/files.py names codes.FsCommand


def test_tl_range_and_default_come_from_the_tl_table() -> None:
    row = at.spec("TL")
    assert row.ranges == ((min(tls.TL_VERSIONS), max(tls.TL_VERSIONS)),)
    assert row.default == tls.TL_DEFAULT
