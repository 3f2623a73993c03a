"""FC 2.0's invoke API (``2016-08-15``), enough for the real ``fc2`` client: ``client.invoke_function(...)``.

- ``POST /2016-08-15/services/{service}[.{qualifier}]/functions/{function}/invocations``; and the HTTP-trigger path
  ``/2016-08-15/proxy/{service}[.{qualifier}]/{function}/{path}`` (the body is the event, as for invocations).
- The request signature is checked as FC does (``Authorization: FC <ak>:<base64 HMAC-SHA256>`` over the method,
  Content-MD5, Content-Type, Date, the sorted ``x-fc-*`` headers and the path, plus sorted query pairs for proxy calls;
  fc2 ``auth.py``). Failures answer FC's error JSON: 403 ``SignatureNotMatch`` / ``InvalidAccessKeyID``.
- ``x-fc-invocation-type: Async`` → 202 with ``x-fc-request-id``, queued through the same ``Invoker`` as OSS triggers
  (same retries). Sync → 200 with the handler's return value; a raised handler → 200 with
  ``x-fc-error-type: UnhandledInvocationError`` and FC's error body, which fc2 raises as ``FcError``.
Served on its own port (a bucket may be named ``2016-08-15``) by uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

import fc2.auth
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ossfaces_localstack.asgi import PromptServer
from ossfaces_localstack.fc.invoker import Invoker, new_request_id
from ossfaces_localstack.fc.triggers import FunctionSpec

log = logging.getLogger("ossfaces_localstack.fc")

API_VERSION = "2016-08-15"
MAX_ASYNC_PAYLOAD = 128 * 1024  # FC limits: async request payload 128 KB
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # sync request payload 6 MB
LOG_TAIL_BYTES = 4096  # x-fc-log-type: Tail returns the last 4 KB of the log

SecretLookup = Callable[[str], "str | None"]


def expected_authorization(
    access_key_id: str, secret: str, method: str, path: str, headers: Mapping[str, str], query: str | None
) -> str:
    """The ``Authorization`` value fc2 would send for this request, computed by fc2's own signer (``fc2.auth.Auth``).

    ``headers`` keys lower-case, ``path`` unescaped; ``query`` (the raw query string) only for proxy calls, which sign
    their sorted ``k=v`` pairs.
    """
    queries = parse_qs(query, keep_blank_values=True) if query is not None else None
    return str(fc2.auth.Auth(access_key_id, secret).sign_request(method, path, dict(headers), queries))


def fc_error(status: int, code: str, message: str, request_id: str) -> Response:
    """FC's API error: status, ``{"ErrorCode", "ErrorMessage"}`` (what fc2 reads), ``x-fc-request-id``."""
    body = json.dumps({"ErrorCode": code, "ErrorMessage": message, "RequestId": request_id})
    return Response(body, status, media_type="application/json", headers={"x-fc-request-id": request_id})


async def body_within(request: Request, limit: int) -> bytes | None:
    """The request's body, or None if it is longer than ``limit``: then the rest is read and dropped, never held (the
    client gets the answer instead of a connection closed under its upload)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif chunks:
            chunks.clear()
    return b"".join(chunks) if size <= limit else None


class FcApi:
    """The Starlette app of the local FC API; ``functions`` maps (service, function) to what the invoker runs."""

    def __init__(self, invoker: Invoker, functions: list[FunctionSpec], secret_for: SecretLookup) -> None:
        self.invoker = invoker
        self.functions = functions
        self.secret_for = secret_for
        self.app = Starlette(
            routes=[
                Route(
                    f"/{API_VERSION}/services/{{service}}/functions/{{function}}/invocations",
                    self.invoke,
                    methods=["POST"],
                ),
                Route(
                    f"/{API_VERSION}/proxy/{{service}}/{{function}}/{{path:path}}",
                    self.invoke,
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"],
                ),
                Route(
                    f"/{API_VERSION}/proxy/{{service}}/{{function}}",
                    self.invoke,
                    methods=["GET", "POST", "PUT", "DELETE"],
                ),
            ]
        )

    def find(self, service: str, function: str) -> tuple[FunctionSpec | None, bool]:
        """(the function, whether the service exists). FC 3.0 functions (no service) answer under any service name."""
        service_known = False
        for spec in self.functions:
            if spec.service in (service, ""):
                service_known = True
                if spec.name == function:
                    return spec, True
        return None, service_known

    def _check_signature(self, request: Request, request_id: str) -> Response | None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        if not auth:
            return fc_error(
                400, "MissingRequiredHeader", "required HTTP header Authorization was not specified", request_id
            )
        scheme, _, credential = auth.partition(" ")
        access_key_id, _, given = credential.partition(":")
        secret = self.secret_for(access_key_id) if scheme == "FC" else None
        if secret is None:
            return fc_error(403, "InvalidAccessKeyID", f"invalid access key ID '{access_key_id}'", request_id)
        path = request.scope["path"]
        query = request.scope.get("query_string", b"").decode() if f"/{API_VERSION}/proxy/" in path else None
        expected = expected_authorization(access_key_id, secret, request.method, path, headers, query)
        if not hmac.compare_digest(expected.encode(), auth.encode()):
            return fc_error(
                403,
                "SignatureNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your access key and signing method",
                request_id,
            )
        return None

    async def invoke(self, request: Request) -> Response:
        request_id = new_request_id()
        refused = self._check_signature(request, request_id)
        if refused is not None:
            return refused
        service, _, qualifier = request.path_params["service"].partition(".")
        name = request.path_params["function"]
        if qualifier and qualifier != "LATEST":
            return fc_error(
                404, "AliasNotFound", f"alias '{qualifier}' of service '{service}' does not exist", request_id
            )
        spec, service_known = self.find(service, name)
        if spec is None:
            if not service_known:
                return fc_error(404, "ServiceNotFound", f"service '{service}' does not exist", request_id)
            return fc_error(
                404, "FunctionNotFound", f"function '{name}' does not exist in service '{service}'", request_id
            )
        mode = request.headers.get("x-fc-invocation-type", "Sync").lower()
        limit = MAX_ASYNC_PAYLOAD if mode == "async" else MAX_SYNC_PAYLOAD
        payload = await body_within(request, limit)
        if payload is None:
            return fc_error(
                400, "EntityTooLarge", f"payload size exceeds maximum allowed size ({limit} bytes)", request_id
            )
        if mode == "async":
            self.invoker.submit(spec, payload, source="api:async", request_id=request_id)
            return Response(b"", 202, headers={"x-fc-request-id": request_id})
        invocation = await run_in_threadpool(
            self.invoker.invoke_sync, spec, payload, source="api:sync", request_id=request_id
        )
        result = invocation.result
        headers = {"x-fc-request-id": request_id, "x-fc-invocation-duration": str(round(invocation.duration_ms))}
        if result is not None and request.headers.get("x-fc-log-type", "").lower() == "tail":
            tail = "\n".join(result.logs).encode()[-LOG_TAIL_BYTES:]
            headers["x-fc-log-result"] = base64.b64encode(tail).decode()
        if result is None or not result.ok:
            headers["x-fc-error-type"] = "UnhandledInvocationError"
        body = result.body if result is not None else b""
        return Response(body, 200, headers=headers, media_type="application/octet-stream")


class ApiServer:
    """uvicorn serving an ASGI app on a loopback port of its own, in a background thread."""

    def __init__(self, app: Callable[..., object], host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # Nagle off (see LocalOss)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = PromptServer(config)
        self._thread = threading.Thread(target=self._serve, name="fc-api", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local FC API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.stop_soon()
        self._thread.join(timeout=5)
        self._socket.close()
