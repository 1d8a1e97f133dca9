"""A real HTTP server on 127.0.0.1 standing in for an SMS provider, for the tests that read
the codes zitui sends by SMS."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SmsSink:
    """A real HTTP server on 127.0.0.1 standing in for the SMS provider: the JSON bodies it
    receives, waited for as they arrive."""

    def __init__(self, code: re.Pattern[str]) -> None:
        self.received: list[dict[str, str]] = []
        self._code = code
        self._arrived = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._arrived:
                    sink.received.append(json.loads(body))
                    sink._arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/send"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def code_number(self, count: int, to: str, timeout_s: float = 15) -> str:
        """The code of the `count`-th message (from 1) to `to`, once it has arrived."""

        def to_number() -> list[dict[str, str]]:
            return [body for body in self.received if body["to"] == to]

        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(to_number()) >= count, timeout_s)
            assert arrived, f"SMS number {count} to {to} did not arrive within {timeout_s} s"
            [code] = self._code.findall(to_number()[count - 1]["text"])
            return str(code)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
