"""A relay on loopback for `device.reset: {method: command}`: the profile's command is a real
program (this interpreter, `urllib`) that asks the relay to switch, and the relay power-cycles
the simulator it serves (`SimServer.call(power_cycle)`), as a bench's relay or PDU switches its
module. It counts every switching, so a test can say the command really ran.
"""

from __future__ import annotations

import http.server
import sys
import threading
from typing import Any

# What the profile's `command:` runs: a GET of the relay's URL (argv[1]); exits 1 if refused.
SWITCH = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10).read()"


class Relay:
    """Power-cycles `server` (a harness.sim.host.server.SimServer) on every GET /cycle."""

    def __init__(self, server: Any) -> None:
        self.cycles = 0
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/cycle":
                    self.send_error(404)
                    return
                server.call(lambda m: m.power_cycle(server.sim_now()))
                relay.cycles += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def command(self) -> list[str]:
        """The profile's `device.reset.command` that switches this relay."""
        host, port = self.http.server_address[:2]
        return [sys.executable, "-c", SWITCH, f"http://{host}:{port}/cycle"]

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
