"""uvicorn's h11 protocol with the deadline OSS keeps for a request's line and headers.

uvicorn drops an idle keep-alive connection, but once a client has sent its first byte it waits for the rest of the
headers forever, so a stalled or deliberately slow client holds its connection open indefinitely. Here a request's
line and headers must be complete within ``header_timeout`` seconds of the connection becoming ready for one; if they
are not, the client gets OSS's 400 RequestTimeout and the connection is closed. (A body that stops arriving is timed
out by the application, see ``server.py``.)
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import xmlcodec
from .call import new_request_id
from .errors import OssError

log = logging.getLogger(__name__)


def request_timeout() -> OssError:
    return OssError(
        400,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period.",
    )


class TimedH11Protocol(H11Protocol):
    """One connection; :func:`with_header_timeout` makes the subclass a server uses."""

    header_timeout: float = 60.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is h11.IDLE:
            self._watch_headers()  # waiting for a request (or for the rest of its headers)
        else:
            self._stop_watching()  # its line and headers are in

    def _watch_headers(self) -> None:
        if self._header_deadline is None and not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _stop_watching(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_timed_out(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request arrived: tell the client why it is dropped
            host = next((v for k, v in self._partial_headers() if k == b"host"), b"localhost")
            body = xmlcodec.error_document(request_timeout(), new_request_id(), host.decode("latin-1"))
            head = (
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nServer: AliyunOSS\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()

    def _partial_headers(self) -> list[tuple[bytes, bytes]]:
        out = []
        for line in self.conn.trailing_data[0].split(b"\r\n")[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                out.append((name.strip().lower(), value.strip()))
        return out


def with_header_timeout(seconds: float) -> type[TimedH11Protocol]:
    return type("TimedH11Protocol", (TimedH11Protocol,), {"header_timeout": seconds})
