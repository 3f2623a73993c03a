"""The OSS REST API as an ASGI application: addressing, authentication, routing, and OSS-shaped errors.

One request flows: parse addressing (path-style or ``<bucket>.<host>``) → authenticate → look up the handler in
:mod:`.routes` by method, level and sub-resource → the handler (``handlers/``) works on the storage in worker threads →
response.  Bodies are streamed in both directions; only XML request bodies (bounded) are read into memory.  Every
failure becomes OSS's error document, including unexpected exceptions (500 InternalError, logged) – never a traceback
page.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from . import xmlcodec
from .auth import V1_SUBRESOURCES, Authenticator, SignedRequest
from .backend import Backend
from .call import Call, method_not_allowed, new_request_id, not_implemented, parse_query, wire_text
from .errors import OssError
from .events import Listener, Processor
from .handlers.acl import PUBLIC_READ
from .handlers.objects import RESPONSE_OVERRIDES
from .names import check_bucket_name, decode_key
from .protocol import request_timeout
from .routes import HANDLED_PARAMS, route
from .storage import Storage

log = logging.getLogger(__name__)


# A virtual-hosted name of OSS itself: <bucket>.oss-<region>[-internal].aliyuncs.com (also oss-accelerate).
OSS_VIRTUAL_HOST = re.compile(r"([a-z0-9][a-z0-9-]*)\.oss-[a-z0-9-]+\.aliyuncs\.com")
# Methods whose body OSS ignores: a body one of them declares is read and dropped before the answer.
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
DRAIN_WAIT_S = 0.25  # how long to wait for such a body before giving up on the connection
DRAIN_MAX_BYTES = 1024 * 1024
# Query parameters that carry a signature (V1, V2 and V4 presigned URLs): a request with one is never anonymous.
ANY_SIGNATURE_PARAM = ("Signature", "OSSAccessKeyId", "x-oss-signature", "x-oss-credential", "x-oss-access-key-id")


class _BodyTracker:
    """The ASGI ``receive`` of one request: remembers whether the body has been read to its end, and while a handler
    reads it, gives up (400 RequestTimeout) when the client sends nothing for ``timeout`` seconds."""

    def __init__(self, receive: Receive, timeout: float) -> None:
        self._receive = receive
        self.timeout = timeout
        self.complete = False
        self.reading = True  # False once the answer is being sent: then receive only waits for a disconnect
        self.timed_out = False

    async def _next(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.complete = True
        return message

    async def __call__(self) -> Message:
        if self.complete or not self.reading:
            return await self._next()
        try:
            return await asyncio.wait_for(self._next(), self.timeout)
        except asyncio.TimeoutError:
            self.timed_out = True
            raise request_timeout() from None

    async def drain(self, scope: Scope) -> bool:
        """Read and drop what is left of a declared body; False if it did not arrive in time (or is too large)."""
        if self.complete:
            return True
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0").strip()
        if b"transfer-encoding" not in headers and (not declared.isdigit() or int(declared) == 0):
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_WAIT_S
        received = 0
        while not self.complete:
            remaining = deadline - loop.time()
            if remaining <= 0 or received > DRAIN_MAX_BYTES:
                return False
            try:
                message = await asyncio.wait_for(self._next(), remaining)
            except asyncio.TimeoutError:
                return False
            received += len(message.get("body", b""))
        return True


class OssApp:
    """ASGI application serving the OSS API over a :class:`Storage`."""

    def __init__(
        self,
        storage: Storage,
        auth: Authenticator,
        *,
        region: str,
        virtual_host_suffixes: Sequence[str],
        processors: Mapping[str, Processor] | None = None,
        listeners: Sequence[Listener] = (),
        read_timeout: float = 60.0,
        restore_seconds: float = 60.0,
    ) -> None:
        self.read_timeout = read_timeout
        self.backend = Backend(storage, auth, region, dict(processors or {}), list(listeners), restore_seconds)
        self.vhost_suffixes = tuple(s.lower() for s in virtual_host_suffixes if s)

    @property
    def processors(self) -> dict[str, Processor]:
        return self.backend.processors

    @property
    def listeners(self) -> list[Listener]:
        return self.backend.listeners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = _BodyTracker(receive, self.read_timeout)
        request = Request(scope, body)
        request_id = new_request_id()
        host_id = wire_text(dict(scope["headers"]).get(b"host", b"localhost"))
        method = scope["method"]
        try:
            call = self._parse(request, request_id)
            response = await self._handle(call)
        except OssError as oss_err:
            response = self._error(oss_err, request_id, host_id, method)
        except ClientDisconnect:
            return
        except Exception:
            log.exception("local OSS: unexpected error on %s %s", method, scope.get("path"))
            err = OssError(500, "InternalError", "We encountered an internal error. Please try again.")
            response = self._error(err, request_id, host_id, method)
        body.reading = False
        response.headers["x-oss-request-id"] = request_id
        response.headers["Server"] = "AliyunOSS"
        if body.timed_out:
            response.headers["Connection"] = "close"
        elif method in BODYLESS_METHODS and not await body.drain(scope):
            # A declared body that has not arrived: per HTTP its bytes come next on this connection, so reusing it
            # would read the client's next request as this one's body. End the connection after this answer instead.
            response.headers["Connection"] = "close"
        await response(scope, body, send)

    @staticmethod
    def _error(err: OssError, request_id: str, host_id: str, method: str) -> Response:
        body = xmlcodec.error_document(err, request_id, host_id)
        headers = dict(err.headers)
        if err.ec:
            headers["x-oss-ec"] = err.ec
        if method == "HEAD":  # HEAD has no body: OSS puts the error document in x-oss-err
            headers["x-oss-err"] = base64.b64encode(body).decode()
            return Response(b"", err.status, headers=headers, media_type="application/xml")
        return Response(body, err.status, headers=headers, media_type="application/xml")

    def _bucket_from_host(self, host: str) -> str | None:
        """The bucket a virtual-hosted request names in ``Host``, or None for path-style addressing.

        ``<bucket>.<this server's host>``, and OSS's own names ``<bucket>.oss-<region>[-internal].aliyuncs.com``:
        SDKs given an IP endpoint may still send those (ali-oss does); ``oss-<region>.aliyuncs.com`` is path-style.
        """
        for suffix in self.vhost_suffixes:
            if host.endswith("." + suffix) and host != suffix:
                return host[: -len(suffix) - 1]
        match = OSS_VIRTUAL_HOST.fullmatch(host)
        return match.group(1) if match else None

    def _parse(self, request: Request, request_id: str) -> Call:
        scope = request.scope
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw_path.split(b"?", 1)[0]
        headers: dict[str, bytes] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            headers[name] = headers[name] + b"," + v if name in headers else v
        if raw_path[:7].lower() == b"http://" or raw_path[:8].lower() == b"https://":
            # absolute-form, as a client sends through an HTTP proxy (HTTP_PROXY naming this server): a server must
            # accept it and take the host from it (RFC 9112 §3.2.2, RFC 9110 §7.2)
            authority, slash, rest = raw_path.split(b"//", 1)[1].partition(b"/")
            raw_path, headers["host"] = slash + rest or b"/", authority
        host = wire_text(headers.get("host", b"")).lower().rsplit(":", 1)[0] if headers.get("host") else ""
        bucket = self._bucket_from_host(host)
        if bucket is not None:
            key_raw = raw_path[1:]
        else:
            first, _, key_raw = raw_path[1:].partition(b"/")
            bucket = unquote_to_bytes(first).decode("utf-8", "replace") or None
        key = decode_key(unquote_to_bytes(key_raw)) if key_raw else None
        if bucket is not None:
            check_bucket_name(bucket)
        params = parse_query(scope.get("query_string", b""))
        client = scope.get("client")
        source_ip = client[0] if client else ""
        return Call(request, request_id, scope["method"], bucket, key, params, headers, source_ip, dict(params))

    async def _public_read(self, c: Call) -> bool:
        """An unsigned GET or HEAD of an object whose ACL is public-read(-write) (and, for a symlink, its target's too)
        is answered without credentials, as OSS answers it; anything else unsigned goes on to AccessDenied."""
        signed = c.header("authorization") or any(p in c.query for p in ANY_SIGNATURE_PARAM)
        if signed or c.method not in ("GET", "HEAD") or c.level != "object" or set(c.query) - set(RESPONSE_OVERRIDES):
            return False

        def public(key: str, hops: int = 1) -> bool:
            try:
                meta = self.backend.storage.head(c.b, key)
            except OssError:
                return False
            if meta.attrs.acl not in PUBLIC_READ:
                return False
            return meta.attrs.symlink is None or (hops > 0 and public(meta.attrs.symlink, hops - 1))

        return await run_in_threadpool(public, c.k)

    async def _handle(self, c: Call) -> Response:
        if c.method == "OPTIONS":
            raise OssError(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
        if not c.is_form_post and not await self._public_read(c):  # a form upload is signed by its policy
            self.backend.auth.authenticate(SignedRequest(c.method, c.bucket, c.key, c.params, c.headers))
        for name in c.query:
            if name in V1_SUBRESOURCES and name not in HANDLED_PARAMS:
                raise not_implemented(f"the '{name}' sub-resource")
        handler = route(c)
        if handler is None:
            raise method_not_allowed()
        return await handler(self.backend, c)
