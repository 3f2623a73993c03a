"""FC's custom-runtime HTTP protocol around the same ``index.handler`` the built-in runtimes call.

``template.yml`` deploys with ``Runtime: custom`` (fun 3.6.24 knows no python3.10), so FC starts ``/code/bootstrap``,
which serves this module on ``FC_SERVER_PORT``. FC then POSTs ``/initialize`` once per instance (when an initializer is
configured) and ``/invoke`` per event; the request headers ``x-fc-*`` carry what a built-in runtime passes as ``context``
(FC docs "Custom runtime: context and log format", "Event handlers in a custom runtime").

Contract kept here (FC docs, custom runtime specification):
- success: HTTP 200 and ``x-fc-status: 200``; the body is the handler's return value (JSON for a dict).
- function error: HTTP 404 and ``x-fc-status: 404``; the body is ``{"errorMessage", "errorType", ...}`` like the built-in
  Python runtime's, so an async invocation is marked failed and retried. The traceback goes to the log, not the reply.
- logs: ``FC Invoke Start RequestId: <id>`` / ``FC Invoke End RequestId: <id>`` (``Initialize`` for the initializer).

Standard library only: this runs before anything else is importable, and must not pull dev dependencies.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_PORT = 9000
HANDLER = "index.handler"
INITIALIZER = "index.initializer"
SUCCESS_STATUS = 200
FUNCTION_ERROR_STATUS = 404  # FC: "404: failed" for StatusCode and x-fc-status of an event function

Handler = Callable[[bytes, Any], Any]
Initializer = Callable[[Any], Any]

log = logging.getLogger("ossfaces.runtime")


@dataclass(frozen=True)
class Credentials:
    """The function role's STS credentials, as FC passes them per request."""

    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class FunctionMeta:
    name: str = ""
    handler: str = ""
    memory: int = 0
    timeout: int = 0
    initializer: str = ""
    initialization_timeout: int = 0


@dataclass(frozen=True)
class ServiceMeta:
    name: str = ""
    log_project: str = ""
    log_store: str = ""
    qualifier: str = ""
    version_id: str = ""


@dataclass(frozen=True)
class FCContext:
    """The same attributes as the built-in Python runtime's ``context`` (FC 2.0/3.0 python3.x)."""

    request_id: str
    credentials: Credentials
    function: FunctionMeta
    service: ServiceMeta
    region: str = ""
    account_id: str = ""


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def context_from_headers(headers: Mapping[str, str]) -> FCContext:
    """Build the handler's ``context`` from FC's ``x-fc-*`` request headers (names compared case-insensitively)."""
    lower = {key.lower(): value for key, value in headers.items()}

    def get(name: str) -> str:
        return lower.get(name, "")

    return FCContext(
        request_id=get("x-fc-request-id"),
        credentials=Credentials(get("x-fc-access-key-id"), get("x-fc-access-key-secret"), get("x-fc-security-token")),
        function=FunctionMeta(
            name=get("x-fc-function-name"),
            handler=get("x-fc-function-handler") or HANDLER,
            memory=_int(get("x-fc-function-memory")),
            timeout=_int(get("x-fc-function-timeout")),
            initializer=get("x-fc-function-initializer") or INITIALIZER,
            initialization_timeout=_int(get("x-fc-initialization-timeout")),
        ),
        service=ServiceMeta(
            name=get("x-fc-service-name"),
            log_project=get("x-fc-service-logproject"),
            log_store=get("x-fc-service-logstore"),
            qualifier=get("x-fc-qualifier"),
            version_id=get("x-fc-version-id"),
        ),
        region=get("x-fc-region"),
        account_id=get("x-fc-account-id"),
    )


def error_body(exc: BaseException) -> dict[str, Any]:
    """What a failed invocation answers: the message and type (and the project's error code), never a traceback."""
    body: dict[str, Any] = {"errorMessage": getattr(exc, "message", None) or str(exc) or type(exc).__name__}
    body["errorType"] = type(exc).__name__
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        body["errorCode"] = code
    return body


def encode_result(result: Any) -> tuple[bytes, str]:
    """The handler's return value as a response body: bytes and str as they are, anything else as JSON."""
    if result is None:
        return b"", "application/octet-stream"
    if isinstance(result, bytes):
        return result, "application/octet-stream"
    if isinstance(result, str):
        return result.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(result, ensure_ascii=False, default=str).encode("utf-8"), "application/json"


def load(spec: str) -> Callable[..., Any]:
    """``module.function`` → the function, imported from the code directory."""
    module_name, _, attr = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {spec!r} is not of the form module.function")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


class Runtime:
    """Calls the handler and the initializer; the initializer runs once per instance, even with concurrent requests."""

    def __init__(self, handler: Handler, initializer: Initializer | None = None) -> None:
        self.handler = handler
        self.initializer = initializer
        self._init_lock = threading.Lock()
        self._initialized = False

    def initialize(self, context: FCContext) -> None:
        with self._init_lock:
            if self._initialized:
                return
            if self.initializer is not None:
                self.initializer(context)
            self._initialized = True

    def invoke(self, event: bytes, context: FCContext) -> Any:
        return self.handler(event, context)


class _RequestHandler(BaseHTTPRequestHandler):
    server: RuntimeServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: with Nagle, the body waits for a delayed ACK

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        control = self.headers.get("x-fc-control-path", "") or path
        length = _int(self.headers.get("Content-Length"))
        body = self.rfile.read(length) if length > 0 else b""
        context = context_from_headers(dict(self.headers.items()))
        if control == "/initialize":
            self._run("Initialize", context, lambda: self.server.runtime.initialize(context))
        elif control == "/invoke":
            self._run("Invoke", context, lambda: self.server.runtime.invoke(body, context))
        elif control in ("/pre-freeze", "/pre-stop"):
            self._reply(SUCCESS_STATUS, b"", "text/plain")
        else:
            self._reply(404, f"unknown path {path}".encode(), "text/plain", fc_status=False)

    def _run(self, phase: str, context: FCContext, call: Callable[[], Any]) -> None:
        request_id = context.request_id
        print(f"FC {phase} Start RequestId: {request_id}", flush=True)
        try:
            result = call()
        except Exception as exc:
            # The log keeps the traceback for the operator; the reply carries the message FC shows and retries on.
            # Errors with a code (ossfaces.errors) already say what to do; anything else keeps its traceback.
            sys.stderr.write(f"{request_id} [ERROR] {phase.lower()} failed: {type(exc).__name__}: {exc}\n")
            if not getattr(exc, "code", None):
                sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            sys.stderr.flush()
            payload = json.dumps(error_body(exc), ensure_ascii=False).encode("utf-8")
            print(f"FC {phase} End RequestId: {request_id}", flush=True)
            self._reply(FUNCTION_ERROR_STATUS, payload, "application/json")
            return
        print(f"FC {phase} End RequestId: {request_id}", flush=True)
        data, content_type = encode_result(result if phase == "Invoke" else None)
        self._reply(SUCCESS_STATUS, data, content_type)

    def _reply(self, status: int, data: bytes, content_type: str, fc_status: bool = True) -> None:
        self.send_response(status)
        if fc_status:
            self.send_header("x-fc-status", str(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: FC's own Start/End lines are the access log."""


class RuntimeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__(address, _RequestHandler)


def port_from_env(environ: Mapping[str, str] | None = None) -> int:
    """FC tells the runtime its port in ``FC_SERVER_PORT`` (``CAPort`` in template.yml); 9000 otherwise."""
    env = os.environ if environ is None else environ
    return _int(env.get("FC_SERVER_PORT")) or DEFAULT_PORT


def _load_or_fail(spec: str) -> Callable[..., Any]:
    """The function at ``spec``; if it cannot be imported, a stand-in that raises why, so that every invocation
    answers with the import error (e.g. a missing ``python/`` dependency) instead of FC's bare "FunctionNotStarted"."""
    try:
        return load(spec)
    except Exception as exc:
        problem = f"cannot load {spec}: {type(exc).__name__}: {exc}"
        sys.stderr.write(f"[ERROR] {problem}\n")

        def broken(*_: Any) -> Any:
            raise RuntimeError(problem)

        return broken


def serve(
    handler: Handler | None = None,
    initializer: Initializer | None = None,
    host: str = "0.0.0.0",  # FC connects from outside the instance's loopback
    port: int | None = None,
) -> None:
    """Serve until killed. Handler and initializer default to ``index.handler`` / ``index.initializer``."""
    runtime = Runtime(handler or _load_or_fail(HANDLER), initializer or _load_or_fail(INITIALIZER))
    server = RuntimeServer((host, port_from_env() if port is None else port), runtime)
    print(f"ossfaces custom runtime listening on {host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main() -> None:
    """Entry of ``function/bootstrap``: log to stderr like the built-in runtime, then serve."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    serve()
