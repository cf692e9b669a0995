"""The module's status and indication codes as data: value, name, Digi's meaning, source tag.

Every code a frame or an AT query can carry is looked up here, so a capture, a report and the
simulator all say the same thing for the same byte. A value missing from a table keeps its raw
value (`Code.known` is False) and prints as "unknown (0xNN)": unlike digi-xbee, which turns
unknown TX statuses into 0xFF, a code we did not expect is exactly what a test must show.
Source tags refer to `shared/reference/xbee3-protocol.md` §0.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    """One row of a code table."""

    value: int
    name: str
    meaning: str
    source: str
    known: bool = True

    def describe(self) -> str:
        if not self.known:
            return f"unknown (0x{self.value:02X})"
        return f"0x{self.value:02X} {self.meaning}"


Row = tuple[int, str, str, str]


def _table(rows: Iterable[Row]) -> dict[int, Code]:
    table: dict[int, Code] = {}
    for value, name, meaning, source in rows:
        if value in table:
            raise ValueError(f"duplicate code 0x{value:02X} ({name})")
        table[value] = Code(value, name, meaning, source)
    return table


# 0x89 Transmit (TX) Status. Reference §2.8. Names follow digi-xbee's TransmitStatus (L-PY).
TX_STATUS = _table(
    [
        (0x00, "SUCCESS", "Successful transmit", "D-89"),
        (0x20, "CONNECTION_NOT_FOUND", "Connection not found", "D-89"),
        (0x21, "NETWORK_ACK_FAILURE", "Failure to transmit to cell network", "D-89"),
        (0x22, "NOT_JOINED_NETWORK", "Not registered to cell network", "D-89"),
        (0x2C, "INVALID_ENDPOINT", "Invalid frame values (check the phone number)", "D-89"),
        (0x31, "SOFTWARE_ERROR", "Internal error", "D-89"),
        (0x32, "RESOURCE_ERROR", "Resource error (retry operation later)", "D-89"),
        (0x74, "PAYLOAD_TOO_LARGE", "Message too long", "D-89"),
        (0x76, "SOCKET_CREATION_FAILED", "Socket closed unexpectedly", "D-89"),
        (0x77, "IP_PORT_NOT_EXIST", "TCP connection to given IP/port does not exist", "L-PY"),
        (0x78, "UDP_SRC_PORT_NOT_MATCH_LISTENING_PORT", "Invalid UDP port", "D-89"),
        (0x79, "TCP_SRC_PORT_NOT_MATCH_LISTENING_PORT", "Invalid TCP port", "D-89"),
        (0x7A, "INVALID_IP_ADDRESS", "Invalid host address", "D-89"),
        (0x7B, "INVALID_IP_PROTOCOL", "Invalid data mode", "D-89"),
        (0x7C, "RELAY_INTERFACE_INVALID", "Invalid interface", "D-89"),
        (0x7D, "RELAY_INTERFACE_REJECTED", "Interface not accepting frames", "D-89"),
        (0x7E, "MODEM_UPDATE_IN_PROGRESS", "A modem update is in progress", "D-89"),
        (0x80, "SOCKET_CONNECTION_REFUSED", "Connection refused", "D-89"),
        (0x81, "SOCKET_CONNECTION_LOST", "Socket connection lost", "D-89"),
        (0x82, "SOCKET_ERROR_NO_SERVER", "No server", "D-89"),
        (0x83, "SOCKET_ERROR_CLOSED", "Socket closed", "D-89"),
        (0x84, "SOCKET_ERROR_UNKNOWN_SERVER", "Unknown server", "D-89"),
        (0x85, "SOCKET_ERROR_UNKNOWN_ERROR", "Unknown error", "D-89"),
        (0x86, "INVALID_TLS_CONFIGURATION", "Invalid TLS configuration", "D-89"),
        (0x87, "SOCKET_NOT_CONNECTED", "Socket not connected", "D-89"),
        (0x88, "SOCKET_NOT_BOUND", "Socket not bound", "D-89"),
        (0x89, "SOCKET_INACTIVITY_TIMEOUT", "Socket inactivity timeout", "L-PY"),
        (0x8A, "PDP_CONTEXT_DEACTIVATED", "PDP context deactivated by network", "L-PY"),
        (0x8B, "TLS_AUTHENTICATION_ERROR", "TLS Socket Authentication Error", "D-89"),
        (0xBB, "KEY_NOT_AUTHORIZED", "Key not authorized", "L-PY"),
    ]
)

_CI_COMMON: list[Row] = [
    (0x00, "SOCKET_OPEN", "The socket is open", "D-CI"),
    (0x01, "SEND_FAILED", "Tried to send but could not", "D-CI"),
    (0x02, "INVALID_PARAMETERS", "Invalid parameters (bad IP/host)", "D-CI"),
    (0x10, "NOT_REGISTERED", "Not registered to the cell network", "D-CI"),
    (0x11, "COMPONENT_NOT_IDENTIFIED", "Cellular component not identified yet", "D-CI"),
    (0x12, "DNS_QUERY_FAILED", "DNS query lookup failure", "D-CI"),
    (0x13, "SOCKET_LEAK", "Socket leak", "D-CI"),
    (0x20, "BAD_HANDLE", "Bad handle", "D-CI"),
    (0x21, "USER_CLOSED", "User closed", "D-CI"),
    (0xFF, "NO_KNOWN_STATUS", "No known status", "D-CI"),
]

# CI (Protocol/Connection Indication), one table per IP protocol. Reference §3.4.
CI_UDP = _table(
    [
        *_CI_COMMON,
        (0x22, "UNKNOWN_SERVER", "Unknown server - DNS lookup failed", "D-CI"),
        (0x23, "CONNECTION_LOST", "Connection lost", "D-CI"),
        (0x24, "UNKNOWN", "Unknown", "D-CI"),
    ]
)
CI_TCP = _table(
    [
        *_CI_COMMON,
        (0x03, "TCP_NOT_SUPPORTED", "TCP not supported on this cellular component", "D-CI"),
        (0x22, "NO_NETWORK_REGISTRATION", "No network registration", "D-CI"),
        (0x23, "NO_INTERNET", "No internet connection", "D-CI"),
        (0x24, "NO_SERVER", "No server - timed out on connection", "D-CI"),
        (0x25, "UNKNOWN_SERVER", "Unknown server - DNS lookup failed", "D-CI"),
        (0x26, "CONNECTION_REFUSED", "Connection refused", "D-CI"),
        (0x27, "CONNECTION_LOST", "Connection lost", "D-CI"),
        (0x28, "UNKNOWN", "Unknown", "D-CI"),
        (0x2F, "TLS_AUTHENTICATION_ERROR", "TLS Socket Authentication Error", "D-CI"),
    ]
)
# The SMS row of the CI page is cut off after 0x12 in the copy read (reference §3.4).
CI_SMS = _table(
    [
        (0x00, "SENT", "SMS sent", "D-CI"),
        (0x01, "SEND_FAILED", "Failed to send SMS", "D-CI"),
        (0x02, "INVALID_PARAMETERS", "Invalid SMS parameters (check P#)", "D-CI"),
        (0x03, "SMS_NOT_SUPPORTED", "SMS not supported", "D-CI"),
        (0x10, "NOT_REGISTERED", "No network registration", "D-CI"),
        (0x11, "STACK_ERROR", "Cellular component stack error", "D-CI"),
        (0x12, "MODEM_UPDATE_IN_PROGRESS", "Modem update in progress", "D-CI"),
        (0xFF, "NO_KNOWN_STATUS", "No known status", "D-CI"),
    ]
)

# AI (association indication), Cellular. Reference §3.3: three client libraries agree.
AI = _table(
    [
        (0x00, "SUCCESSFULLY_CONNECTED", "Connected to the Internet", "L-PY"),
        (0x22, "REGISTERING_CELLULAR_NETWORK", "Registering to cellular network", "L-PY"),
        (0x23, "CONNECTING_INTERNET", "Connecting to the Internet", "L-PY"),
        (
            0x24,
            "MODEM_FIRMWARE_CORRUPT",
            "Cellular component missing / corrupt / needs new firmware",
            "L-PY",
        ),
        (0x25, "REGISTRATION_DENIED", "Cellular network registration denied", "L-PY"),
        (0x2A, "AIRPLANE_MODE", "Airplane mode active", "L-PY"),
        (0x2B, "USB_DIRECT", "USB Direct active", "L-PY"),
        (0x2C, "PSM_LOW_POWER", "Cellular component in PSM low-power state", "L-PY"),
        (0x2D, "MODEM_SHUT_DOWN", "Modem shut down", "L-PY"),
        (0x2E, "LOW_VOLTAGE_SHUT_DOWN", "Low voltage shut down", "L-PY"),
        (0x2F, "BYPASS_MODE", "Bypass mode active", "L-PY"),
        (0x30, "UPGRADE_IN_PROCESS", "Upgrade in process", "L-PY"),
        (0x31, "REGULATORY_TESTING_ENABLED", "Regulatory testing enabled", "L-PY"),
        (0xFF, "INITIALIZING", "Initializing", "L-PY"),
    ]
)

# 0x8A Modem Status. Reference §2.5 (the 2018 Cat 1 guide lists only 0x00-0x03, 0x0E, 0x0F).
MODEM_STATUS = _table(
    [
        (0x00, "HARDWARE_RESET", "Hardware reset or power up", "D-8A"),
        (0x01, "WATCHDOG_TIMER_RESET", "Watchdog timer reset", "D-8A"),
        (0x02, "JOINED_NETWORK", "Registered with cellular network", "D-8A"),
        (0x03, "DISASSOCIATED", "Unregistered with cellular network", "D-8A"),
        (0x0E, "REMOTE_MANAGER_CONNECTED", "Remote Manager connected", "D-8A"),
        (0x0F, "REMOTE_MANAGER_DISCONNECTED", "Remote Manager disconnected", "D-8A"),
        (0x32, "BLUETOOTH_CONNECTED", "BLE Connect", "D-8A"),
        (0x33, "BLUETOOTH_DISCONNECTED", "BLE Disconnect", "D-8A"),
        (0x34, "BANDMASK_CONFIGURATION_ERROR", "Bandmask configuration failed", "D-8A"),
        (0x35, "CELLULAR_UPDATE_START", "Cellular component update started", "D-8A"),
        (0x36, "CELLULAR_UPDATE_FAILED", "Cellular component update failed", "D-8A"),
        (0x37, "CELLULAR_UPDATE_SUCCESS", "Cellular component update completed", "D-8A"),
        (0x38, "FIRMWARE_UPDATE_START", "XBee firmware update started", "D-8A"),
        (0x39, "FIRMWARE_UPDATE_FAILED", "XBee firmware update failed", "D-8A"),
        (0x3A, "FIRMWARE_UPDATE_APPLYING", "XBee firmware update applying", "D-8A"),
    ]
)

# 0xCF Socket Status: every value but 0x00 closes the socket. Reference §2.11.
SOCKET_STATE = _table(
    [
        (0x00, "CONNECTED", "Connected", "D-SF"),
        (0x01, "FAILED_DNS", "Failed DNS lookup", "D-SF"),
        (0x02, "CONNECTION_REFUSED", "Connection refused", "D-SF"),
        (0x03, "TRANSPORT_CLOSED", "Transport closed", "D-SF"),
        (0x04, "TIMED_OUT", "Timed out", "D-SF"),
        (0x05, "INTERNAL_ERROR", "Internal error", "D-SF"),
        (0x06, "HOST_UNREACHABLE", "Host unreachable", "D-SF"),
        (0x07, "CONNECTION_LOST", "Connection lost", "D-SF"),
        (0x08, "UNKNOWN_ERROR", "Unknown error", "D-SF"),
        (0x09, "UNKNOWN_SERVER", "Unknown server", "D-SF"),
        (0x0A, "RESOURCE_ERROR", "Resource error", "D-SF"),
        (0x0B, "LISTENER_CLOSED", "Listener closed", "L-C"),
        (0x0C, "RST_CLOSE_BY_PEER", "RST close by peer", "L-PY"),
        (0x0D, "CLOSED_INACTIVITY_TIMEOUT", "Closed due to inactivity timeout", "L-PY"),
        (0x0E, "PDP_CONTEXT_DEACTIVATED", "PDP context deactivated by network", "L-PY"),
    ]
)

# Shared socket response status list (L-C; L-PY SocketStatus adds 0x7E, 0x85, 0x86). Used for
# 0xC3 Close Response, whose own codes beyond 0x00 are UNVERIFIED (reference §2.11).
SOCKET_RESPONSE = _table(
    [
        (0x00, "SUCCESS", "Success", "L-C"),
        (0x01, "INVALID_PARAM", "Invalid parameters", "L-C"),
        (0x02, "FAILED_TO_READ", "Failed to read", "L-C"),
        (0x03, "CONNECTION_IN_PROGRESS", "Connect already in progress", "L-C"),
        (0x04, "ALREADY_CONNECTED", "Already connected, bound or listening", "L-C"),
        (0x05, "UNKNOWN_ERROR", "Unknown error", "L-C"),
        (0x20, "BAD_SOCKET", "Bad socket ID", "L-C"),
        (0x22, "NOT_REGISTERED", "Not registered to cell network", "L-C"),
        (0x31, "INTERNAL_ERROR", "Internal error", "L-C"),
        (0x32, "RESOURCE_ERROR", "Resource error (retry later)", "L-C"),
        (0x7B, "INVALID_PROTOCOL", "Invalid protocol", "L-C"),
        (0x7E, "MODEM_UPDATE_IN_PROGRESS", "Modem update in progress", "L-PY"),
        (0x85, "UNKNOWN_ERROR_2", "Unknown error", "L-PY"),
        (0x86, "INVALID_TLS_CFG", "Invalid TLS configuration", "L-PY"),
    ]
)

# 0xC0 Socket Create Response. D-SF p.267; 0x85/0x86 from the 3G guide (D-C0-3G).
SOCKET_CREATE = _table(
    [
        (0x00, "SUCCESS", "Successful open", "D-SF"),
        (0x22, "NOT_REGISTERED", "Not registered to cell network", "D-SF"),
        (0x31, "INTERNAL_ERROR", "Internal error", "D-SF"),
        (0x32, "RESOURCE_ERROR", "Resource error: retry the operation later", "D-SF"),
        (0x7B, "INVALID_PROTOCOL", "Invalid protocol", "D-SF"),
        (0x7E, "MODEM_UPDATE_IN_PROGRESS", "Modem update in progress", "D-SF"),
        (0x85, "UNKNOWN_ERROR", "Unknown error", "D-C0-3G"),
        (0x86, "INVALID_TLS_CFG", "Invalid TLS configuration", "D-C0-3G"),
    ]
)

# 0xC1 Socket Option Response. D-SF p.269.
SOCKET_OPTION = _table(
    [
        (0x00, "SUCCESS", "Success", "D-SF"),
        (0x01, "INVALID_PARAM", "Invalid parameters", "D-SF"),
        (0x02, "FAILED_TO_READ", "Failed to retrieve option value", "D-SF"),
        (0x20, "BAD_SOCKET", "Bad socket ID", "D-SF"),
    ]
)

# 0xC2 Socket Connect Response. D-SF p.271.
SOCKET_CONNECT = _table(
    [
        (0x00, "SUCCESS", "Connect started", "D-SF"),
        (0x01, "INVALID_ADDRESS_TYPE", "Invalid destination address type", "D-SF"),
        (0x02, "INVALID_PARAM", "Invalid parameter (address or port)", "D-SF"),
        (0x03, "CONNECTION_IN_PROGRESS", "Already in progress", "D-SF"),
        (0x04, "ALREADY_CONNECTED", "Already connected", "D-SF"),
        (0x05, "UNKNOWN_ERROR", "Unknown error", "D-SF"),
        (0x20, "BAD_SOCKET", "Invalid socket ID", "D-SF"),
    ]
)

# 0xC6 Socket Listen Response. D-SF p.277.
SOCKET_LISTEN = _table(
    [
        (0x00, "SUCCESS", "Success", "D-SF"),
        (0x01, "INVALID_PORT", "Invalid port", "D-SF"),
        (0x02, "ERROR", "Error", "D-SF"),
        (0x03, "ALREADY_BOUND", "Already bound or listening", "D-SF"),
        (0x20, "BAD_SOCKET", "Invalid socket ID", "D-SF"),
    ]
)

# 0x88 AT Command Response status. 0-3 from D-88; the rest from L-PY ATCommandStatus. The raw
# byte is looked up as it is (digi-xbee masks the low nibble; we keep what came).
AT_STATUS = _table(
    [
        (0x00, "OK", "OK", "D-88"),
        (0x01, "ERROR", "ERROR", "D-88"),
        (0x02, "INVALID_COMMAND", "Invalid command", "D-88"),
        (0x03, "INVALID_PARAMETER", "Invalid parameter", "D-88"),
        (0x04, "TX_FAILURE", "TX failure", "L-PY"),
        (0x0B, "NO_SECURE_SESSION", "No secure session", "L-PY"),
        (0x0C, "ENC_ERROR", "Encryption error", "L-PY"),
        (0x0D, "CMD_SENT_INSECURELY", "Command sent insecurely", "L-PY"),
    ]
)

# 0xBB File System Response status. Reference §2.12 (D-BB, L-PY FSCommandStatus).
FS_STATUS = _table(
    [
        (0x00, "SUCCESS", "Success", "D-BB"),
        (0x01, "ERROR", "Error", "D-BB"),
        (0x02, "INVALID_COMMAND", "Invalid file system command", "D-BB"),
        (0x03, "INVALID_PARAMETER", "Invalid command parameter", "D-BB"),
        (0x50, "ACCESS_DENIED", "Access denied", "D-BB"),
        (0x51, "ALREADY_EXISTS", "File or directory already exists", "D-BB"),
        (0x52, "DOES_NOT_EXIST", "File or directory does not exist", "D-BB"),
        (0x53, "INVALID_NAME", "Invalid file or directory name", "D-BB"),
        (0x54, "IS_DIRECTORY", "File operation on directory", "D-BB"),
        (0x55, "DIR_NOT_EMPTY", "Directory is not empty", "D-BB"),
        (0x56, "EOF_REACHED", "Attempt to read past end of file", "D-BB"),
        (0x57, "HW_FAILURE", "Hardware failure", "D-BB"),
        (0x58, "NO_DEVICE", "Volume offline / format required", "D-BB"),
        (0x59, "VOLUME_FULL", "Volume full", "D-BB"),
        (0x5A, "TIMED_OUT", "Operation timed out", "D-BB"),
        (0x5B, "DEVICE_BUSY", "Busy with prior operation", "D-BB"),
        (0x5C, "RESOURCE_FAILURE", "Resource failure (memory allocation failed)", "D-BB"),
    ]
)

# 0xFE Frame Error (L-PY FrameError; whether Cellular sends it is UNVERIFIED, reference §1.1).
FRAME_ERROR = _table(
    [
        (0x02, "INVALID_TYPE", "Invalid frame type", "L-PY"),
        (0x03, "INVALID_LENGTH", "Invalid frame length", "L-PY"),
        (0x04, "INVALID_CHECKSUM", "Erroneous checksum on last frame", "L-PY"),
        (0x05, "PAYLOAD_TOO_BIG", "Payload of last API frame was too big", "L-PY"),
        (0x06, "STRING_ENTRY_TOO_BIG", "String entry was too big on last API frame", "L-PY"),
        (0x07, "WRONG_STATE", "Wrong state to receive frame", "L-PY"),
        (0x08, "WRONG_REQUEST_ID", "Device request ID does not match the response", "L-PY"),
    ]
)

# IP protocol numbers (IP command, 0x20/0xB0/0x40 protocol byte). D-20, L-PY IPProtocol.
IP_PROTOCOL = _table(
    [
        (0x00, "UDP", "UDP", "D-20"),
        (0x01, "TCP", "TCP", "D-20"),
        (0x02, "SMS", "SMS (IP command only)", "D-CI"),
        (0x04, "TLS", "SSL/TLS over TCP", "D-20"),
    ]
)


class IpProtocol(enum.IntEnum):
    """The IP protocols a socket can have (IP command, 0x20/0xB0 and 0x40 protocol byte),
    named as in `IP_PROTOCOL` (D-20, D-C0-3G, L-C). SMS (2) is the IP command's only."""

    UDP = 0x00
    TCP = 0x01
    TLS = 0x04


# The socket protocols by number: what a 0x20, a 0x40 or ATIP may name (anything else is
# not a socket protocol). The one home of {0: UDP, 1: TCP, 4: TLS}.
IP_PROTOCOLS: dict[int, IpProtocol] = {p.value: p for p in IpProtocol}


# ----- the codes the harness names in its own code ------------------------------------------
# Members are named as the table's rows and checked against them when this module loads
# (`_check_named`), so a value is written once: in its table.


class TxStatus(enum.IntEnum):
    """0x89 TX statuses named in code (rows of `TX_STATUS`, D-89)."""

    SUCCESS = 0x00
    CONNECTION_NOT_FOUND = 0x20
    NOT_JOINED_NETWORK = 0x22
    INVALID_ENDPOINT = 0x2C
    RESOURCE_ERROR = 0x32
    PAYLOAD_TOO_LARGE = 0x74
    IP_PORT_NOT_EXIST = 0x77
    UDP_SRC_PORT_NOT_MATCH_LISTENING_PORT = 0x78
    TCP_SRC_PORT_NOT_MATCH_LISTENING_PORT = 0x79
    INVALID_IP_ADDRESS = 0x7A
    INVALID_TLS_CONFIGURATION = 0x86
    SOCKET_NOT_CONNECTED = 0x87
    SOCKET_NOT_BOUND = 0x88


class CiStatus(enum.IntEnum):
    """CI values every CI table shares, named in code (rows of `CI_TCP`/`CI_UDP`, D-CI)."""

    SOCKET_OPEN = 0x00
    INVALID_PARAMETERS = 0x02
    NO_KNOWN_STATUS = 0xFF


class SocketStatus(enum.IntEnum):
    """Socket response statuses (0xC0-0xC6) named in code (rows of `SOCKET_RESPONSE`, L-C)."""

    SUCCESS = 0x00
    INVALID_PARAM = 0x01
    FAILED_TO_READ = 0x02
    CONNECTION_IN_PROGRESS = 0x03
    ALREADY_CONNECTED = 0x04
    BAD_SOCKET = 0x20
    NOT_REGISTERED = 0x22
    RESOURCE_ERROR = 0x32
    INVALID_PROTOCOL = 0x7B


class FsStatus(enum.IntEnum):
    """0xBB File System Response statuses named in code (rows of `FS_STATUS`, D-BB)."""

    SUCCESS = 0x00
    INVALID_COMMAND = 0x02
    INVALID_PARAMETER = 0x03
    DOES_NOT_EXIST = 0x52


class FsCommand(enum.IntEnum):
    """0x3B File System command numbers (D-3B p.289; RENAME from L-PY FSCmdType)."""

    FILE_OPEN = 0x01
    FILE_CLOSE = 0x02
    FILE_READ = 0x03
    FILE_WRITE = 0x04
    FILE_HASH = 0x08
    DIR_CREATE = 0x10
    DIR_OPEN = 0x11
    DIR_CLOSE = 0x12
    DIR_READ = 0x13
    GET_PATH_ID = 0x1C
    RENAME = 0x21
    DELETE = 0x2F
    VOLUME_INFO = 0x40
    VOLUME_FORMAT = 0x4F


class FsOpen(enum.IntFlag):
    """0x3B File Open options (D-3B 0x01 page)."""

    CREATE = 0x01
    EXCLUSIVE = 0x02
    READ = 0x04
    WRITE = 0x08
    TRUNCATE = 0x10
    APPEND = 0x20
    SECURE = 0x80  # write-only file; only with WRITE and CREATE+EXCLUSIVE or TRUNCATE


def _check_named(named: type[enum.IntEnum], table: dict[int, Code]) -> None:
    for member in named:
        row = table.get(member.value)
        if row is None or row.name != member.name:
            raise ValueError(f"{named.__name__}.{member.name}: not row 0x{member.value:02X}")


_check_named(IpProtocol, IP_PROTOCOL)
_check_named(TxStatus, TX_STATUS)
_check_named(CiStatus, CI_TCP)
_check_named(CiStatus, CI_UDP)
_check_named(SocketStatus, SOCKET_RESPONSE)
_check_named(FsStatus, FS_STATUS)


# Table names as the command line spells them (`xbee-hil codes CI 0x26`).
TABLES: dict[str, dict[int, Code]] = {
    "TX": TX_STATUS,
    "CI": CI_TCP,
    "CI-TCP": CI_TCP,
    "CI-TLS": CI_TCP,
    "CI-UDP": CI_UDP,
    "CI-SMS": CI_SMS,
    "AI": AI,
    "MODEM": MODEM_STATUS,
    "SOCKET": SOCKET_STATE,
    "SOCKET-RESPONSE": SOCKET_RESPONSE,
    "SOCKET-CREATE": SOCKET_CREATE,
    "SOCKET-OPTION": SOCKET_OPTION,
    "SOCKET-CONNECT": SOCKET_CONNECT,
    "SOCKET-CLOSE": SOCKET_RESPONSE,
    "SOCKET-LISTEN": SOCKET_LISTEN,
    "AT": AT_STATUS,
    "FS": FS_STATUS,
    "FRAME-ERROR": FRAME_ERROR,
    "PROTOCOL": IP_PROTOCOL,
}

# The CI table that applies for each value of the IP command (reference §3.4).
CI_BY_IP_PROTOCOL: dict[int, str] = {0: "CI-UDP", 1: "CI", 2: "CI-SMS", 4: "CI"}


def _resolve(table: str | dict[int, Code]) -> dict[int, Code]:
    if isinstance(table, dict):
        return table
    try:
        return TABLES[table.upper()]
    except KeyError:
        names = ", ".join(TABLES)
        raise KeyError(f"no code table {table!r}; tables: {names}") from None


def lookup(table: str | dict[int, Code], value: int) -> Code:
    """The row for `value`, or an unknown row that keeps the raw value."""
    rows = _resolve(table)
    code = rows.get(value)
    if code is not None:
        return code
    return Code(value, f"unknown (0x{value:02X})", "unknown", "", known=False)


def describe(table: str | dict[int, Code], value: int) -> str:
    """`"0x26 Connection refused"`, or `"unknown (0xNN)"`."""
    return lookup(table, value).describe()


def ci_table(ip_protocol: int) -> str:
    """The CI table name for an IP command value (UDP, TCP/TLS or SMS); TCP when unknown."""
    return CI_BY_IP_PROTOCOL.get(ip_protocol, "CI")


# ----- reason families: what a code says went wrong ------------------------------------------


class Reason(enum.Enum):
    """Why a connection ended, as a family of codes: what a verdict compares. A firmware
    may give one code for several reasons (3100C: CI 0x26 = refused or any TLS failure,
    F-HTTPS), so a code maps to a set of these (`harness.xbee.firmware.Family.reasons`)."""

    OK = "ok"
    TLS_AUTH = "TLS authentication"
    TLS_CONFIG = "TLS configuration"
    TLS_HANDSHAKE = "TLS handshake"
    REFUSED = "refused"
    DNS = "DNS"
    NO_ROUTE = "no route / timeout"
    NOT_REGISTERED = "not registered"
    CLOSED_BY_PEER = "closed by peer"
    CLOSED_BY_HOST = "closed by host / inactivity"
    NO_STATUS = "no known status"  # D-CI 0xFF: the module wrote no code (A-CI-TLS-FF)
    UNKNOWN = "unknown"


TLS_REASONS = frozenset({Reason.TLS_AUTH, Reason.TLS_CONFIG, Reason.TLS_HANDSHAKE})

_R = Reason
# What Digi's tables say each code means, on any firmware (the fallback for a module whose
# firmware family is not known). Source tags are those of the tables above.
GENERIC_REASONS: dict[str, dict[int, Reason]] = {
    "ci": {
        0x00: _R.OK,  # D-CI socket open
        0x10: _R.NOT_REGISTERED, 0x11: _R.NOT_REGISTERED,  # D-CI
        0x12: _R.DNS,  # D-CI DNS query lookup failure
        0x21: _R.CLOSED_BY_HOST,  # D-CI user closed
        0x22: _R.NOT_REGISTERED, 0x23: _R.NOT_REGISTERED,  # D-CI (TCP table)
        0x24: _R.NO_ROUTE,  # D-CI no server, timed out
        0x25: _R.DNS,  # D-CI unknown server, DNS lookup failed
        0x26: _R.REFUSED,  # D-CI connection refused
        0x27: _R.CLOSED_BY_PEER,  # D-CI connection lost (A-CLOSE-CI)
        0x2F: _R.TLS_AUTH,  # D-CI TLS socket authentication error
        0xFF: _R.NO_STATUS,  # D-CI no known status
    },
    "tx_status": {
        0x00: _R.OK,
        0x21: _R.NOT_REGISTERED, 0x22: _R.NOT_REGISTERED, 0x8A: _R.NOT_REGISTERED,  # D-89, L-PY
        0x84: _R.DNS,  # D-89 unknown server
        0x82: _R.NO_ROUTE, 0x89: _R.CLOSED_BY_HOST,  # D-89 no server; L-PY inactivity
        0x80: _R.REFUSED,  # D-89 connection refused
        0x81: _R.CLOSED_BY_PEER, 0x83: _R.CLOSED_BY_PEER,  # D-89 lost / closed
        0x86: _R.TLS_CONFIG,  # D-89 invalid TLS configuration
        0x8B: _R.TLS_AUTH,  # D-89 TLS socket authentication error
    },
    "socket_status": {
        0x00: _R.OK,
        0x01: _R.DNS, 0x09: _R.DNS,  # D-SF failed DNS lookup, unknown server
        0x02: _R.REFUSED,  # D-SF
        0x03: _R.CLOSED_BY_PEER, 0x07: _R.CLOSED_BY_PEER, 0x0C: _R.CLOSED_BY_PEER,  # D-SF, L-PY
        0x04: _R.NO_ROUTE, 0x06: _R.NO_ROUTE,  # D-SF timed out, host unreachable
        0x0D: _R.CLOSED_BY_HOST,  # L-PY inactivity
    },
}


def generic_reason(kind: str, value: int) -> Reason:
    """What Digi's table for `kind` (ci, tx_status, socket_status) says `value` means."""
    return GENERIC_REASONS.get(kind, {}).get(value, Reason.UNKNOWN)
