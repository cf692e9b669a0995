"""The gap between a socket's last 0xCD and the 0xCF of a peer close (A-SIM-CLOSE-SPACING).

A loopback server answers 3000 bytes and closes at once; the simulated LTE-M module (no UART
pacing) carries them over an extended socket to an `ApiClient` on a real pty. Prints, per
time scale, the real seconds from the last 0xCD to the 0xCF: the personality's spacing
(module seconds) times the scale, since the spacing is a deadline of the Modem's clock.

    python benchmarks/close_spacing.py [--scales 1 0.1]
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

from harness.device.api import ApiClient
from harness.device.transport import open_device
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer

SERVER = "10.9.8.7"


def one(scale: float, lsock: socket.socket) -> float:
    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            conn.recv(100)
            conn.sendall(b"x" * 3000)

    threading.Thread(target=serve, daemon=True).start()
    routes = {f"{SERVER}:80": "{}:{}".format(*lsock.getsockname())}
    srv = SimServer(Modem("ltem-11415", ap=1), Network(NetworkConfig(routes=routes)),
                    time_scale=scale, uart_pacing=False)
    try:
        with open_device(srv.start_pty()) as tap, ApiClient(tap) as client:
            while client.get("AI") != 0:
                time.sleep(0.05)
            sid, _ = client.socket_create(1)
            client.socket_connect(sid, SERVER, 80)
            client.socket_send(sid, b"GET")
            closed = client.wait_for(0xCF, timeout=30,
                                     where=lambda f: getattr(f, "socket_id", None) == sid)
            data = [r for r in client.take_unsolicited() if r.type == 0xCD]
            return closed.t - data[-1].t
    finally:
        srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.1])
    args = parser.parse_args()
    spacing = personality_mod.load("ltem-11415").close_after_data_s
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        for scale in args.scales:
            gap = one(scale, lsock)
            print(f"time scale {scale:g}: 0xCF {gap:.3f} s after the last 0xCD "
                  f"(personality {spacing:g} module s = {spacing * scale:.3f} s real)")


if __name__ == "__main__":
    main()
