"""The local IMM v2 OpenAPI endpoint: ``DetectImageFaces`` over HTTP, as the official SDK calls it.

``POST /`` with ``x-acs-action: DetectImageFaces``, ``x-acs-version: 2020-09-30``, the parameters in the query (or a
form body) and an ACS3-HMAC-SHA256 signature. Nothing is read before it is needed: the action, version and signature
(over the body's declared hash) are checked from the headers and query first, so an unsigned or wrongly signed request
is answered before a byte of its body is read; the body, at most ``MAX_BODY_BYTES``, is then checked against that hash.
``ProjectName`` is checked against the projects this endpoint serves, ``SourceURI=oss://bucket/key`` is read from the
local OSS's storage only up to the engine's object size limit (``OSSFACES_MAX_IMAGE_BYTES``: a larger object is
refused unread), and the local face engine (the same detector that answers ``imm/detectface``) produces the faces,
returned in v2's shape. Failures are IMM's error JSON with IMM's status codes.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from ossfaces.errors import BadImage

from .errors import ImmError, file_not_found, invalid_argument, project_not_found
from .figures import v2_figure
from .nonces import NonceStore
from .signature import KeyStore, Request, Verifier

API_VERSION = "2020-09-30"
ACTIONS = ("DetectImageFaces",)

MAX_BODY_BYTES = 64 * 1024
"""A DetectImageFaces request names its image by ``SourceURI``: its form body is a few hundred bytes."""

FaceDetector = Callable[[bytes], list[dict[str, Any]]]  # photo bytes → IMM v1 face dicts; raises BadImage
ObjectReader = Callable[[str, str, int], bytes]
"""(bucket, key, limit) → body; raises KeyError when there is no such object, ``TooLarge`` when it has more bytes
than ``limit`` (then it is not read)."""


class TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def _body_too_large() -> ImmError:
    return ImmError(
        413,
        "RequestEntityTooLarge",
        f"The request body is larger than {MAX_BODY_BYTES} bytes (the image goes by SourceURI).",
    )


@dataclass(frozen=True)
class Call:
    """One DetectImageFaces request that passed authentication (what a test counts)."""

    action: str
    project: str
    source_uri: str
    access_key_id: str
    status: int


@dataclass
class ImmApp:
    """The ASGI app. ``projects``: the IMM v2 project names this endpoint answers for."""

    keys: KeyStore
    read_object: ObjectReader
    detector: FaceDetector
    projects: Sequence[str]
    region: str
    max_image_bytes: int
    calls: list[Call] = field(default_factory=list)
    faults: list[ImmError] = field(default_factory=list)  # answered, in order, instead of the next calls (tests)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    nonces: NonceStore | None = None

    def __post_init__(self) -> None:
        self.verifier = Verifier(self.keys, nonces=self.nonces)
        self.app = Starlette(routes=[Route("/", self.handle, methods=["POST", "GET"])])

    @property
    def host_id(self) -> str:
        return f"imm.{self.region}.aliyuncs.com"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def handle(self, http: HttpRequest) -> Response:
        request_id = "-".join(secrets.token_hex(n).upper() for n in (4, 2, 2, 2, 6))
        query = list(http.query_params.multi_items())
        head = Request(http.method, http.url.path, query, {k.lower(): v for k, v in http.headers.items()}, b"")
        try:
            action = self._check_action(head, dict(query))
            key_id = await run_in_threadpool(self.verifier.verify_head, head)
            body = await self._read_body(http, head)
            self.verifier.check_body(head, body)
            await run_in_threadpool(self.verifier.use_nonce, head)
            params = dict(query)
            if body and head.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                params |= dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            document = await run_in_threadpool(self._serve, action, params, key_id, request_id)
        except ImmError as error:
            return self._json(error.status, error.body(request_id, self.host_id), request_id)
        return self._json(200, document, request_id)

    @staticmethod
    def _check_action(head: Request, query: dict[str, str]) -> str:
        action = head.headers.get("x-acs-action") or query.get("Action", "")
        if action not in ACTIONS:
            raise ImmError(
                404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
            )
        if (head.headers.get("x-acs-version") or query.get("Version")) != API_VERSION:
            raise ImmError(
                400, "InvalidVersion", f"Specified parameter Version is not valid (this endpoint serves {API_VERSION})."
            )
        return action

    @staticmethod
    async def _read_body(http: HttpRequest, head: Request) -> bytes:
        """The body, read only now (the request is signed) and only up to ``MAX_BODY_BYTES``."""
        declared = head.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise _body_too_large()
        body = bytearray()
        async for chunk in http.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _body_too_large()
        return bytes(body)

    def _serve(self, action: str, params: dict[str, str], key_id: str, request_id: str) -> dict[str, Any]:
        project, source = params.get("ProjectName", ""), params.get("SourceURI", "")
        status = 200
        try:
            with self._lock:
                fault = self.faults.pop(0) if self.faults else None
            if fault is not None:
                raise fault
            return self._detect(project, source, request_id)
        except ImmError as error:
            status = error.status
            raise
        finally:
            with self._lock:
                self.calls.append(Call(action, project, source, key_id, status))

    def _detect(self, project: str, source: str, request_id: str) -> dict[str, Any]:
        if not project:
            raise invalid_argument("The parameter ProjectName is required but not provided.")
        if project not in self.projects:
            raise project_not_found()
        if not source:
            raise invalid_argument("The parameter SourceURI is required but not provided.")
        bucket, _, key = source.removeprefix("oss://").partition("/")
        if not source.startswith("oss://") or not bucket or not key:
            raise invalid_argument(f"The parameter SourceURI {source!r} is invalid: expected oss://bucket/object.")
        try:
            data = self.read_object(bucket, key, self.max_image_bytes)
        except KeyError:
            raise file_not_found() from None
        except TooLarge as exc:
            raise invalid_argument(
                f"The image {source} is {exc.size} bytes, more than the {self.max_image_bytes} this endpoint reads "
                "(OSSFACES_MAX_IMAGE_BYTES)."
            ) from None
        try:
            faces = self.detector(data)
        except BadImage as exc:
            raise invalid_argument(f"The image {source} cannot be processed: {exc.code}: {exc.message}") from exc
        return {"RequestId": request_id, "Faces": [v2_figure(face) for face in faces]}

    @staticmethod
    def _json(status: int, document: dict[str, Any], request_id: str) -> Response:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return Response(
            body, status, media_type="application/json;charset=utf-8", headers={"x-acs-request-id": request_id}
        )
