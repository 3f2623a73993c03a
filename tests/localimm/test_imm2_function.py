"""The function with engine ``imm2`` against the local OSS + the local IMM v2 endpoint (real SDK, real HTTP, real
signatures): the document, idempotency (one DetectImageFaces call per photo version) and each error class."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import oss2
import pytest

from ossfaces.errors import ConfigError, TransientError
from ossfaces.idempotency import META_ENGINE
from ossfaces.invocation import App
from ossfaces.settings import Settings
from ossfaces_localstack.fc.context import FCContext
from ossfaces_localstack.imm import DEFAULT_PROJECT, ImmError, LocalImm
from ossfaces_localstack.oss import LocalOss

from .localimm_support import event_for

FACE_V1 = {  # what the stand-in detector returns, in the local engine's (IMM v1) shape
    "Age": 31,
    "AgeSD": 3.5,
    "Gender": "FEMALE",
    "GenderConfidence": 0.98,
    "Emotion": "HAPPY",
    "EmotionConfidence": 0.9,
    "FaceConfidence": 0.99,
    "FaceAttributes": {
        "FaceBoundary": {"Left": 10, "Top": 20, "Width": 30, "Height": 40},
        "HeadPose": {"Pitch": 1.0, "Roll": 2.0, "Yaw": 3.0},
    },
}


@pytest.fixture
def imm(local_oss: LocalOss) -> Any:
    """The local IMM endpoint with a fixed detector (these tests are about the protocol and the policy)."""
    from ossfaces.errors import BadImage

    def detect(data: bytes) -> list[dict[str, Any]]:
        if not data.startswith(b"\xff\xd8"):
            raise BadImage("InvalidImage.Unsupported", "not a JPEG")
        return [dict(FACE_V1)]

    with LocalImm(local_oss, detect) as server:
        yield server


def settings(local_oss: LocalOss, imm: LocalImm, **fields: Any) -> Settings:
    environ = {
        "OSSFACES_ENGINE": "imm2",
        "OSSFACES_OSS_ENDPOINT": local_oss.endpoint,
        "OSSFACES_IMM_ENDPOINT": imm.endpoint,
        "OSSFACES_IMM_PROJECT": DEFAULT_PROJECT,
        "OSSFACES_OSS_TIMEOUT": "5",
    }
    return Settings.from_environ(environ, **fields)


@pytest.fixture
def app(local_oss: LocalOss, imm: LocalImm) -> App:
    return App(settings(local_oss, imm))


PHOTO = b"\xff\xd8\xff\xe0 a JPEG as far as the stand-in detector cares \xff\xd9"


def test_imm2_writes_the_document_in_the_common_shape(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext
) -> None:
    oss_bucket.put_object("p/a.jpg", PHOTO)
    summary = app.handle(event_for(oss_bucket, "p/a.jpg"), context)
    assert summary["processed"] == 1
    result = oss_bucket.get_object("p/a.jpg.faces.json")
    document = json.loads(result.read())
    assert document["Engine"] == {"Name": "imm2", "Version": "DetectImageFaces@2020-09-30"}
    assert result.headers[META_ENGINE] == "imm2/DetectImageFaces@2020-09-30"
    (face,) = document["Faces"]
    assert face["Gender"] == "FEMALE" and face["Emotion"] == "HAPPY" and face["FaceConfidence"] == 0.99
    assert face["FaceAttributes"]["FaceBoundary"] == {"Left": 10, "Top": 20, "Width": 30, "Height": 40}  # as sent
    assert face["FaceAttributes"]["HeadPose"] == {"Pitch": 1.0, "Roll": 2.0, "Yaw": 3.0}
    assert face["AgeSD"] == 3.5 and face["FigureType"] == "face" and face["FigureId"]
    assert document["RequestId"] and document["ImageUri"] == f"oss://{oss_bucket.bucket_name}/p/a.jpg"
    (call,) = imm.calls
    assert call.access_key_id == context.credentials.access_key_id  # the function's (STS) credentials


def test_twenty_deliveries_cost_one_detect_image_faces_call(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    event = event_for(oss_bucket, "a.jpg")

    def deliver(_: int) -> str:
        try:
            return "processed" if app.handle(event, context)["processed"] else "skipped"
        except TransientError as exc:
            return exc.code  # a live claim: FC would retry and then find the result done

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(deliver, range(20)))
    retried = [app.handle(event, context) for _ in range(outcomes.count("InProgress"))]  # FC's retries
    assert outcomes.count("processed") == 1 and all(r["skipped"] == 1 for r in retried)
    assert len(imm.calls) == 1


def test_overwritten_photo_is_skipped_without_an_imm_call(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    stale = event_for(oss_bucket, "a.jpg")
    oss_bucket.put_object("a.jpg", PHOTO + b"v2")
    assert app.handle(stale, context)["skipped"] == 1
    assert imm.calls == [] and not oss_bucket.object_exists("a.jpg.faces.json")


def test_wrong_project_fails_with_what_to_fix(
    local_oss: LocalOss, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext
) -> None:
    app = App(settings(local_oss, imm, imm_project="no-such-project"))
    oss_bucket.put_object("a.jpg", PHOTO)
    with pytest.raises(ConfigError) as info:
        app.handle(event_for(oss_bucket, "a.jpg"), context)
    assert info.value.code == "ResourceNotFound" and "OSSFACES_IMM_PROJECT" in info.value.message
    assert not oss_bucket.object_exists("a.jpg.faces.json")


def test_missing_project_setting_fails_at_start(local_oss: LocalOss, imm: LocalImm) -> None:
    app = App(settings(local_oss, imm, imm_project=""))
    with pytest.raises(ConfigError, match="OSSFACES_IMM_PROJECT"):
        app.initialize()


@pytest.mark.parametrize(
    ("fault", "code", "fix"),
    [
        (ImmError(403, "Forbidden", "User not authorized to operate on the specified APIs."), "Forbidden",
         "imm:DetectImageFaces"),
        (ImmError(403, "Forbidden.NotActivated", "IMM is not activated."), "Forbidden.NotActivated", "activate IMM"),
        (ImmError(400, "InvalidArgument", "File access forbidden."), "InvalidArgument", "service role"),
    ],
)  # fmt: skip
def test_permission_and_activation_refusals_are_configuration(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext, fault: ImmError, code: str, fix: str
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    imm.inject(fault)
    with pytest.raises(ConfigError) as info:
        app.handle(event_for(oss_bucket, "a.jpg"), context)
    assert info.value.code == code and fix in info.value.message and info.value.request_id


def test_wrong_credentials_for_imm_are_configuration(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, local_oss: LocalOss, context: FCContext, monkeypatch: Any
) -> None:
    """The signature is checked by the endpoint: a secret IMM does not know is SignatureDoesNotMatch."""
    from ossfaces_localstack.imm import server

    oss_bucket.put_object("a.jpg", PHOTO)
    monkeypatch.setattr(imm.app.verifier, "keys", lambda key_id, token: "a-different-secret")
    with pytest.raises(ConfigError) as info:
        app.handle(event_for(oss_bucket, "a.jpg"), context)
    assert info.value.code == "SignatureDoesNotMatch" and "credentials" in info.value.message
    assert server.API_VERSION == "2020-09-30"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (None, "InvalidArgument"),  # the stand-in detector refuses the bytes: IMM's 400 about the image
        (ImmError(400, "InvalidArgument", "0056-00000002: source file too large for IMM"), "InvalidArgument"),
        (ImmError(400, "ResourceNotFound", "The specified resource file is not found."), "ResourceNotFound"),
    ],
)
def test_bad_or_too_large_image_gets_an_error_document(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext, fault: ImmError | None, code: str
) -> None:
    oss_bucket.put_object("a.jpg", b"GIF89a not a jpeg" if fault is None else PHOTO)
    if fault is not None:
        imm.inject(fault)
    assert app.handle(event_for(oss_bucket, "a.jpg"), context)["error-document"] == 1
    document = json.loads(oss_bucket.get_object("a.jpg.faces.json").read())
    assert document["Faces"] == [] and document["Error"]["Code"] == code and document["Error"]["RequestId"]


@pytest.mark.parametrize(
    "fault",
    [
        ImmError(400, "Throttling.User", "Request was denied due to user flow control."),
        ImmError(429, "Throttling", "Request was denied due to request throttling."),
        ImmError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
        ImmError(500, "InternalError", "The request processing has failed due to some unknown error."),
    ],
)
def test_throttling_and_server_errors_are_retried_with_nothing_written(
    app: App, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext, fault: ImmError
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    imm.inject(fault)
    with pytest.raises(TransientError) as info:
        app.handle(event_for(oss_bucket, "a.jpg"), context)
    assert info.value.code == fault.code
    assert not oss_bucket.object_exists("a.jpg.faces.json")
    assert app.handle(event_for(oss_bucket, "a.jpg"), context)["processed"] == 1  # FC's retry succeeds


def test_unreachable_imm_is_transient(
    local_oss: LocalOss, imm: LocalImm, oss_bucket: oss2.Bucket, context: FCContext
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = App(settings(local_oss, imm, imm_endpoint=f"http://127.0.0.1:{port}"))
    oss_bucket.put_object("a.jpg", PHOTO)
    with pytest.raises(TransientError) as info:
        app.handle(event_for(oss_bucket, "a.jpg"), context)
    assert info.value.code == "NetworkError"
