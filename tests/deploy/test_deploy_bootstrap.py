"""function/bootstrap over real HTTP: FC's custom-runtime protocol around index.handler.

The server runs as a subprocess, as FC runs it: ``FC_SERVER_PORT``, POST ``/initialize`` and ``/invoke`` with ``x-fc-*``
headers. Events used here never need a working OSS: skipped records (not an image, a result, an empty object), an
invalid event (configuration error), and a photo whose OSS endpoint is a closed port (transient error, FC retries).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ossfaces.runtime_api import Runtime, RuntimeServer, context_from_headers

from .deploy_support import REPO

BOOTSTRAP = REPO / "function" / "bootstrap"
FC_HEADERS = {
    "x-fc-access-key-id": "STS.test-key-id",
    "x-fc-access-key-secret": "test-secret",
    "x-fc-security-token": "test-token",
    "x-fc-function-name": "ossfaces",
    "x-fc-function-handler": "index.handler",
    "x-fc-function-memory": "1024",
    "x-fc-function-timeout": "120",
    "x-fc-function-initializer": "index.initializer",
    "x-fc-initialization-timeout": "60",
    "x-fc-region": "cn-hangzhou",
    "x-fc-account-id": "1234567890",
    "x-fc-service-name": "ossfaces",
    "x-fc-qualifier": "LATEST",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event(key: str, size: int = 1234, name: str = "ObjectCreated:PutObject") -> bytes:
    record = {
        "eventName": name,
        "eventSource": "acs:oss",
        "eventTime": "2026-11-21T06:45:43.000Z",
        "eventVersion": "1.0",
        "region": "cn-hangzhou",
        "oss": {
            "bucket": {"arn": "acs:oss:cn-hangzhou:1234567890:ossfaces-photos", "name": "ossfaces-photos"},
            "object": {"key": key, "size": size, "deltaSize": size, "eTag": "688A7BF4F233DC9C88A80BF985AB7329"},
            "ossSchemaVersion": "1.0",
        },
    }
    return json.dumps({"events": [record]}).encode()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    port: int
    process: subprocess.Popen[str]

    def post(self, path: str, body: bytes = b"", request_id: str = "req-1", **extra: str) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {**FC_HEADERS, "x-fc-request-id": request_id, "Content-Type": "application/octet-stream", **extra}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        conn.close()
        return reply


@contextlib.contextmanager
def bootstrap() -> Iterator[Server]:
    """function/bootstrap on a free port; its OSS endpoint is a port nobody listens on."""
    port, closed = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSSFACES_", "ALIBABA_CLOUD_"))}
    env.update(FC_SERVER_PORT=str(port), OSSFACES_OSS_ENDPOINT=f"http://127.0.0.1:{closed}", OSSFACES_OSS_TIMEOUT="3",
               OSSFACES_OSS_AUTH_VERSION="v1", PYTHONUNBUFFERED="1")  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, str(BOOTSTRAP)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"bootstrap exited: {process.stdout.read() if process.stdout else ''}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("bootstrap did not listen on FC_SERVER_PORT within 30 s")
    try:
        yield Server(port, process)
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One bootstrap shared by the tests that only talk to it."""
    with bootstrap() as shared:
        yield shared


def test_bootstrap_is_executable() -> None:
    assert os.access(BOOTSTRAP, os.X_OK)
    assert BOOTSTRAP.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")


def test_initialize(server: Server) -> None:
    reply = server.post("/initialize", request_id="init-1")
    assert (reply.status, reply.headers["x-fc-status"]) == (200, "200"), reply.body


@pytest.mark.parametrize(
    ("key", "size"),
    [("notes/readme.txt", 10), ("photos/a.jpg.faces.json", 500), ("photos/empty.jpg", 0)],
    ids=["not-an-image", "result-document", "zero-bytes"],
)
def test_skipped_records_succeed(server: Server, key: str, size: int) -> None:
    reply = server.post("/invoke", event(key, size), request_id=f"skip-{size}")
    assert (reply.status, reply.headers["x-fc-status"]) == (200, "200"), reply.body
    summary = reply.json()
    assert summary["records"] == 1 and summary["skipped"] == 1 and summary["failed"] == 0


def test_invalid_event_is_a_function_error_with_the_message(server: Server) -> None:
    reply = server.post("/invoke", b'{"hello": "world"}', request_id="bad-event")
    assert (reply.status, reply.headers["x-fc-status"]) == (404, "404")
    body = reply.json()
    assert body["errorType"] == "ConfigError" and body["errorCode"] == "InvalidEvent"
    assert "not an OSS trigger event" in body["errorMessage"]
    assert b"Traceback" not in reply.body


def test_unreachable_oss_is_a_retryable_failure(server: Server) -> None:
    reply = server.post("/invoke", event("photos/cat.jpg", 50_000), request_id="net-down")
    assert (reply.status, reply.headers["x-fc-status"]) == (404, "404")
    body = reply.json()
    assert body["errorType"] == "TransientError", body
    assert "ossfaces-photos" in body["errorMessage"] and b"Traceback" not in reply.body


def test_credentials_come_from_the_headers(server: Server) -> None:
    """Without x-fc-access-key-* (and no ALIBABA_CLOUD_* in the environment) there are no credentials."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/invoke", body=event("photos/dog.jpg", 50_000), headers={"x-fc-request-id": "no-creds"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 404 and body["errorCode"] == "NoCredentials"


def test_fc_log_markers_and_no_secret_in_logs() -> None:
    """Its own bootstrap, initialized and invoked here: the log is read after the process ends, and the shared one may
    be serving the other tests on another xdist worker (which failed this test when it ran alone there)."""
    with bootstrap() as own:
        own.post("/initialize", request_id="init-1")
        own.post("/invoke", event("x.txt", 1), request_id="marker-1")
        own.process.terminate()
        output, _ = own.process.communicate(timeout=10)
    assert "FC Invoke Start RequestId: marker-1" in output
    assert "FC Invoke End RequestId: marker-1" in output
    assert "FC Initialize Start RequestId: init-1" in output
    assert "test-secret" not in output and "test-token" not in output


def test_context_from_headers() -> None:
    context = context_from_headers({k.upper(): v for k, v in {**FC_HEADERS, "x-fc-request-id": "r-9"}.items()})
    assert context.request_id == "r-9"
    assert context.credentials.access_key_id == "STS.test-key-id"
    assert context.credentials.access_key_secret == "test-secret"
    assert context.credentials.security_token == "test-token"
    assert (context.function.name, context.function.handler) == ("ossfaces", "index.handler")
    assert (context.function.memory, context.function.timeout) == (1024, 120)
    assert (context.region, context.account_id) == ("cn-hangzhou", "1234567890")
    assert "test-secret" not in repr(context)


@pytest.fixture
def in_process() -> Iterator[tuple[int, list[Any]]]:
    """A RuntimeServer in a thread with a handler that echoes, or raises on b"boom"; and the initializer's calls."""
    calls: list[Any] = []

    def handler(event: bytes, context: Any) -> Any:
        if event == b"boom":
            raise ValueError("the handler broke")
        return {"event": event.decode(), "request_id": context.request_id}

    server = RuntimeServer(("127.0.0.1", 0), Runtime(handler, calls.append))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), calls
    server.shutdown()
    server.server_close()


def test_any_handler_exception_is_reported_not_crashed(in_process: tuple[int, list[Any]]) -> None:
    port, calls = in_process
    live = Server(port, None)  # type: ignore[arg-type]
    assert live.post("/initialize").status == 200 and live.post("/initialize").status == 200
    assert len(calls) == 1, "the initializer runs once per instance"
    ok = live.post("/invoke", b"hi", request_id="r-1")
    assert ok.status == 200 and ok.json() == {"event": "hi", "request_id": "r-1"}
    failed = live.post("/invoke", b"boom")
    assert (failed.status, failed.headers["x-fc-status"]) == (404, "404")
    assert failed.json() == {"errorMessage": "the handler broke", "errorType": "ValueError"}
    assert live.post("/invoke", b"again").status == 200, "the server survives a failed invocation"
