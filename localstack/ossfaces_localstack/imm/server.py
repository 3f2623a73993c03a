"""The local IMM v2 OpenAPI endpoint: ``DetectImageFaces`` over HTTP, as the official SDK calls it.

``POST /`` with ``x-acs-action: DetectImageFaces``, ``x-acs-version: 2020-09-30``, the parameters in the query (or a
form body) and an ACS3-HMAC-SHA256 signature. The signature and STS token are checked against the local OSS's keys,
``ProjectName`` against the projects this endpoint serves, ``SourceURI=oss://bucket/key`` is read from the local OSS's
storage, and the local face engine (the same detector that answers ``imm/detectface``) produces the faces, returned
in v2's shape. Failures are IMM's error JSON with IMM's status codes.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from ossfaces.errors import BadImage

from .errors import ImmError, file_not_found, invalid_argument, project_not_found
from .figures import v2_figure
from .signature import KeyStore, Request, Verifier

API_VERSION = "2020-09-30"
ACTIONS = ("DetectImageFaces",)

FaceDetector = Callable[[bytes], list[dict[str, Any]]]  # photo bytes → IMM v1 face dicts; raises BadImage
ObjectReader = Callable[[str, str], bytes]  # (bucket, key) → body; raises KeyError when there is no such object


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
    calls: list[Call] = field(default_factory=list)
    faults: list[ImmError] = field(default_factory=list)  # answered, in order, instead of the next calls (tests)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.verifier = Verifier(self.keys)
        self.app = Starlette(routes=[Route("/", self.handle, methods=["POST", "GET"])])

    @property
    def host_id(self) -> str:
        return f"imm.{self.region}.aliyuncs.com"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def handle(self, http: HttpRequest) -> Response:
        request_id = "-".join(secrets.token_hex(n).upper() for n in (4, 2, 2, 2, 6))
        body = await http.body()
        params = list(http.query_params.multi_items())
        if body and http.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params += list((await http.form()).multi_items())  # type: ignore[arg-type]
        request = Request(http.method, http.url.path, params, {k.lower(): v for k, v in http.headers.items()}, body)
        try:
            document = await run_in_threadpool(self._serve, request, dict(params), request_id)
        except ImmError as error:
            return self._json(error.status, error.body(request_id, self.host_id), request_id)
        return self._json(200, document, request_id)

    def _serve(self, request: Request, params: dict[str, str], request_id: str) -> dict[str, Any]:
        action = request.headers.get("x-acs-action") or params.get("Action", "")
        if action not in ACTIONS:
            raise ImmError(
                404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
            )
        if (request.headers.get("x-acs-version") or params.get("Version")) != API_VERSION:
            raise ImmError(
                400, "InvalidVersion", f"Specified parameter Version is not valid (this endpoint serves {API_VERSION})."
            )
        key_id = self.verifier.verify(request)
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
            data = self.read_object(bucket, key)
        except KeyError:
            raise file_not_found() from None
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
