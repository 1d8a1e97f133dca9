"""The HTTP/1.1 protocol zitui serves with: uvicorn's httptools parser, with a bound on the
request head.

llhttp (behind httptools) is several times faster than h11 but, unlike h11, accepts a request
line and headers of any size. A client may send at most MAX_HEAD_BYTES before its headers
end; beyond that it gets 400 and the connection is closed, so nobody can make the server
buffer an endless header.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    _in_head = True
    _head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.send_400_response("Request header fields too large.")
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0
