"""``PromptServer``: uvicorn's server that stops within milliseconds, and still lets a response in flight finish."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ossfaces_localstack.asgi import PromptServer


async def slow(request: Request) -> Response:
    await asyncio.sleep(0.5)
    return Response(b"done")


def test_a_stop_lets_the_response_in_flight_finish_then_returns() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = PromptServer(uvicorn.Config(Starlette(routes=[Route("/slow", slow)]), lifespan="off", log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    answers: list[tuple[int, bytes]] = []

    def ask() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/slow")
        response = conn.getresponse()
        answers.append((response.status, response.read()))

    client = threading.Thread(target=ask)
    client.start()
    while not server.server_state.tasks:  # the request is being answered
        assert time.monotonic() < deadline, "the request never reached the server"
        time.sleep(0.01)
    server.stop_soon()
    thread.join(timeout=10)
    client.join(timeout=10)
    assert not thread.is_alive() and answers == [(200, b"done")]
