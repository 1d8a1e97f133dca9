"""A lean HTTP/1.1 client for load generation: one keep-alive connection, a cookie jar.

The benchmark's clients share the two cores with the server they measure. httpx spends about
18 ms of CPU on a full login (six requests); this client spends well under one, so the figure
is the server's. It speaks only what zitui's pages need: Content-Length bodies, no chunking,
no TLS.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, [""])[0]

    @property
    def text(self) -> str:
        return self.body.decode()


class LeanBrowser:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, params: dict[str, str] | None = None) -> Reply:
        if params:
            target = f"{target}?{urlencode(params)}"
        return await self.request("GET", target)

    async def post(
        self, target: str, data: dict[str, str], *, auth: tuple[str, str] | None = None
    ) -> Reply:
        headers = {"content-type": "application/x-www-form-urlencoded"}
        if auth:
            pair = f"{auth[0]}:{auth[1]}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        return await self.request("POST", target, body=urlencode(data).encode(), headers=headers)

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        reused = self._writer is not None and not self._writer.is_closing()
        try:
            return await self._exchange(method, target, body, headers)
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            partial = getattr(exc, "partial", b"")
            if not reused or partial:
                raise
            # The server closed the idle keep-alive connection (uvicorn does after 5 s), as
            # a browser finds out: open a new one and send the request again.
            await self.close()
            return await self._exchange(method, target, body, headers)

    async def _exchange(
        self, method: str, target: str, body: bytes, headers: dict[str, str] | None
    ) -> Reply:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        lines = [f"{method} {target} HTTP/1.1", f"host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self.cookies:
            lines.append("cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method == "POST":
            lines.append(f"content-length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        found: dict[str, list[str]] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                found.setdefault(name.strip().lower(), []).append(value.strip())
        if "chunked" in found.get("transfer-encoding", [""])[0]:
            raise RuntimeError("chunked responses are not supported by LeanBrowser")
        payload = await self._reader.readexactly(int(found.get("content-length", ["0"])[0]))
        for cookie in found.get("set-cookie", []):
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if found.get("connection", [""])[0].lower() == "close":
            await self.close()
        return Reply(int(status_line.split()[1]), found, payload)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
