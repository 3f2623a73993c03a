"""Fixtures for driving the real handler against the local OSS: an FC-like context and the function's environment.

IMM itself cannot run here. Where a test needs a particular IMM answer (malformed JSON, a 4xx about the image, a 5xx),
it registers a stand-in ``imm/detectface`` processor on the local OSS and says so; everything else (oss2, HTTP, the
signatures, the handler) is the real thing. The end-to-end tests use the local face engine behind ``imm/detectface``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oss2
import pytest

from ossfaces.invocation import App
from ossfaces.settings import Settings
from ossfaces_localstack.oss import LocalOss, ProcessError, ProcessRequest

EVENTS = Path(__file__).resolve().parents[2] / "events"


@dataclass
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str


@dataclass
class FunctionMeta:
    name: str = "ossfaces"
    handler: str = "index.handler"
    memory: int = 1024
    timeout: int = 120


@dataclass
class Context:
    """What FC's python3.10 runtime passes as ``context`` (FC 3.0 "Context" doc)."""

    credentials: Credentials
    request_id: str = "test-request-0001"
    region: str = "cn-hangzhou"
    account_id: str = "1234567890123456"
    function: FunctionMeta = field(default_factory=FunctionMeta)


Handler = Callable[[bytes, Any], dict[str, Any]]


def function_settings(local_oss: LocalOss, **fields: Any) -> Settings:
    """The function's settings as FC would read them from an environment that sets only the local OSS endpoint and
    the engine (``fields`` override); this process's own environment plays no part."""
    return Settings.from_environ({"OSSFACES_OSS_ENDPOINT": local_oss.endpoint, "OSSFACES_ENGINE": "imm"}, **fields)


@pytest.fixture
def app(local_oss: LocalOss) -> App:
    """The function (one FC instance) pointed at the local OSS, engine ``imm``."""
    return App(function_settings(local_oss))


@pytest.fixture
def handler(app: App) -> Handler:
    """``index.handler`` of that instance."""
    return app.handle


@pytest.fixture
def context(local_oss: LocalOss) -> Context:
    return Context(Credentials(*local_oss.issue_sts(3600)))


@dataclass
class ImmStandIn:
    """A stand-in for IMM behind ``imm/detectface``: answers what the test sets and counts the requests that reach it."""

    answer: Callable[[ProcessRequest], tuple[int, str, bytes]]
    calls: list[ProcessRequest] = field(default_factory=list)

    def __call__(self, request: ProcessRequest) -> tuple[int, str, bytes]:
        self.calls.append(request)
        return self.answer(request)


def imm_document(faces: list[dict[str, Any]], uri: str) -> bytes:
    return json.dumps({"Faces": faces, "ImageUri": uri, "RequestId": "IMM-STAND-IN", "success": True}).encode()


ONE_FACE = {
    "Age": 31,
    "Gender": "FEMALE",
    "GenderConfidence": 0.98,
    "FaceConfidence": 0.99,
    "FaceId": "f" * 64,
    "FaceAttributes": {"FaceBoundary": {"Left": 10, "Top": 20, "Width": 30, "Height": 40}},
}


@pytest.fixture
def imm(local_oss: LocalOss) -> ImmStandIn:
    stand_in = ImmStandIn(lambda r: (200, "application/json", imm_document([ONE_FACE], f"oss://{r.bucket}/{r.key}")))
    local_oss.set_processor("imm/detectface", stand_in)
    return stand_in


def raising(status: int, code: str, message: str) -> Callable[[ProcessRequest], tuple[int, str, bytes]]:
    def answer(request: ProcessRequest) -> tuple[int, str, bytes]:
        raise ProcessError(status, code, message)

    return answer


def event_for(bucket: oss2.Bucket, key: str, fixture: str = "oss_put_jpg.json", **changes: Any) -> bytes:
    """An events/ fixture retargeted at an object that really exists in the local OSS (its key, size and ETag)."""
    payload = json.loads((EVENTS / fixture).read_text(encoding="utf-8"))
    records = (
        [item["data"] for item in payload]
        if isinstance(payload, list)
        else [payload.get("data") or payload["events"][0]]
    )
    for record in records:
        record["oss"]["bucket"]["name"] = bucket.bucket_name
        record["oss"]["object"]["key"] = key
        try:
            head = bucket.head_object(key)
            record["oss"]["object"]["size"] = head.content_length
            record["oss"]["object"]["eTag"] = head.etag
        except oss2.exceptions.NotFound:
            pass
        record["oss"]["object"].update(changes)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
