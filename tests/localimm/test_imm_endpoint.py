"""The local IMM v2 endpoint, driven by the real ``alibabacloud-imm20200930`` client (ACS3-HMAC-SHA256 signed)."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from typing import Any

import oss2
import pytest
import requests
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils

from ossfaces.settings import Settings
from ossfaces_localstack.detectface import FaceDetector
from ossfaces_localstack.imm import DEFAULT_PROJECT, ImmError, LocalImm
from ossfaces_localstack.imm.signature import Request, Verifier
from ossfaces_localstack.oss import LocalOss, OssError
from ossfaces_localstack.oss.auth import Authenticator

from .localimm_support import detect, sdk_client, signed_post


@pytest.fixture
def photo(oss_bucket: oss2.Bucket, face_jpeg: bytes) -> str:
    oss_bucket.put_object("photos/astronaut.jpg", face_jpeg)
    return f"oss://{oss_bucket.bucket_name}/photos/astronaut.jpg"


def _refused(call: Any) -> ClientException:
    with pytest.raises(ClientException) as info:
        call()
    return info.value


def test_detect_image_faces_answers_in_v2_shape_with_sts_credentials(
    local_oss: LocalOss, local_imm: LocalImm, photo: str
) -> None:
    client = sdk_client(local_imm, *local_oss.issue_sts(600))
    body = detect(client, DEFAULT_PROJECT, photo)
    assert body["RequestId"] and len(body["Faces"]) == 1
    (face,) = body["Faces"]
    assert face["Gender"] in ("female", "male") and face["Gender"] == "female"  # Eileen Collins
    assert face["Emotion"] == face["Emotion"].lower() and "EmotionDetails" not in face
    assert set(face["Boundary"]) >= {"Left", "Top", "Width", "Height"} and 100 < face["Boundary"]["Left"] < 300
    assert set(face["HeadPose"]) == {"Pitch", "Roll", "Yaw"}
    assert face["FigureType"] == "face" and face["FigureId"] and 0 < face["FigureConfidence"] <= 1
    assert "FaceAttributes" not in face and "FaceConfidence" not in face
    (call,) = local_imm.calls
    assert (call.project, call.source_uri, call.status) == (DEFAULT_PROJECT, photo, 200)


def test_static_key_pair_works_too(local_oss: LocalOss, local_imm: LocalImm, photo: str) -> None:
    client = sdk_client(local_imm, local_oss.access_key_id, local_oss.access_key_secret)
    assert len(detect(client, DEFAULT_PROJECT, photo)["Faces"]) == 1


def test_wrong_secret_is_signature_does_not_match(local_oss: LocalOss, local_imm: LocalImm, photo: str) -> None:
    key_id, _, token = local_oss.issue_sts(600)
    error = _refused(lambda: detect(sdk_client(local_imm, key_id, "not-the-secret", token), DEFAULT_PROJECT, photo))
    assert (error.status_code, error.code) == (400, "SignatureDoesNotMatch")
    assert local_imm.calls == []  # refused before any work


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("token", 400, "InvalidSecurityToken.Malformed"),
        ("key", 404, "InvalidAccessKeyId.NotFound"),
    ],
)
def test_wrong_sts_token_or_unknown_key_is_refused(
    local_oss: LocalOss, local_imm: LocalImm, photo: str, change: str, status: int, code: str
) -> None:
    key_id, secret, token = local_oss.issue_sts(600)
    if change == "token":
        token = token[:-4] + "XXXX"
    else:
        key_id = "STS.nobody"
    error = _refused(lambda: detect(sdk_client(local_imm, key_id, secret, token), DEFAULT_PROJECT, photo))
    assert (error.status_code, error.code) == (status, code)


def test_wrong_project_is_resource_not_found(local_oss: LocalOss, local_imm: LocalImm, photo: str) -> None:
    client = sdk_client(local_imm, *local_oss.issue_sts(600))
    error = _refused(lambda: detect(client, "someone-elses-project", photo))
    assert (error.status_code, error.code) == (400, "ResourceNotFound")
    assert "project is not found" in error.message
    assert error.data is not None and set(error.data) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}


@pytest.mark.parametrize(
    ("source", "code", "fragment"),
    [
        ("oss://test-bucket/missing.jpg", "ResourceNotFound", "file is not found"),
        ("oss://test-bucket/notes.jpg", "InvalidArgument", "cannot be processed"),
        ("https://test-bucket/x.jpg", "InvalidArgument", "oss://bucket/object"),
        ("", "InvalidArgument", "SourceURI is required"),
    ],
)
def test_bad_input_gets_imms_error_json(
    local_oss: LocalOss, local_imm: LocalImm, oss_bucket: oss2.Bucket, source: str, code: str, fragment: str
) -> None:
    oss_bucket.put_object("notes.jpg", b"this is not a photo")
    client = sdk_client(local_imm, *local_oss.issue_sts(600))
    error = _refused(lambda: detect(client, DEFAULT_PROJECT, source))
    assert (error.status_code, error.code) == (400, code) and fragment in error.message


def _signed(secret: str, key_id: str, *, nonce: str, date: str, query: dict[str, str]) -> Request:
    """A request signed by the SDK's own signer (``Utils.get_authorization``), as ``do_request`` builds it."""

    class Wire:
        pathname = "/"
        method = "POST"

    wire = Wire()
    empty = hashlib.sha256(b"").hexdigest()
    headers = {
        "host": "127.0.0.1:1",
        "x-acs-action": "DetectImageFaces",
        "x-acs-version": "2020-09-30",
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": empty,
    }
    wire.query, wire.headers = query, headers  # type: ignore[attr-defined]
    headers["authorization"] = Utils.get_authorization(wire, "ACS3-HMAC-SHA256", empty, key_id, secret)
    return Request("POST", "/", list(query.items()), headers, b"")


def test_verifier_refuses_replay_stale_date_and_tampering() -> None:
    verifier = Verifier(lambda key_id, token: {"ak": "sk"}[key_id])
    now = time.time()
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    query = {"ProjectName": "p", "SourceURI": "oss://b/k"}
    good = _signed("sk", "ak", nonce="n1", date=date, query=query)
    assert verifier.verify(good, now) == "ak"
    cases = {
        "SignatureNonceUsed": good,
        "InvalidTimeStamp.Expired": _signed(
            "sk", "ak", nonce="n2", date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)), query=query
        ),
        "SignatureDoesNotMatch": Request(
            "POST", "/", [("ProjectName", "p"), ("SourceURI", "oss://b/other")], good.headers, b""
        ),
        "IncompleteSignature": Request("POST", "/", good.query, {**good.headers, "x-acs-extra": "unsigned"}, b""),
    }
    for code, request in cases.items():
        with pytest.raises(ImmError) as info:
            verifier.verify(request, now)
        assert info.value.code == code


def test_the_endpoint_shares_the_oss_key_store_through_its_public_accessor() -> None:
    """``Authenticator.secret_for``: the one store of keys and STS tokens that the local OSS and IMM both check."""
    auth = Authenticator({"static-id": "static-secret"}, "cn-hangzhou")
    key_id, secret, token = auth.issue_sts(600)
    assert auth.secret_for("static-id", None) == "static-secret"
    assert auth.secret_for(key_id, token) == secret
    refusals = {}
    for case, (ak, tok) in {
        "unknown": ("nobody", None),
        "no token": (key_id, None),
        "bad token": (key_id, "x"),
    }.items():
        with pytest.raises(OssError) as info:
            auth.secret_for(ak, tok)
        refusals[case] = info.value.code
    expired_id, _, expired_token = auth.issue_sts(-1)
    with pytest.raises(OssError) as info:
        auth.secret_for(expired_id, expired_token)
    refusals["expired"] = info.value.code
    assert refusals == {
        "unknown": "InvalidAccessKeyId",
        "no token": "InvalidSecurityToken",
        "bad token": "InvalidSecurityToken",
        "expired": "SecurityTokenExpired",
    }


def _answer_to_headers_only(imm: LocalImm, headers: dict[str, str], path: str = "/") -> tuple[int, dict[str, Any]]:
    """Send only a request's headers (its body is declared, never sent) and read the answer: an endpoint that reads
    the body before deciding would wait for it until the timeout."""
    host, port = imm.endpoint.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall("\r\n".join(lines).encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body[body.index(b"{") :].split(b"\r\n")[0])


def test_an_unsigned_1_gib_body_is_refused_before_it_is_read(local_imm: LocalImm) -> None:
    status, error = _answer_to_headers_only(
        local_imm, {"x-acs-action": "DetectImageFaces", "x-acs-version": "2020-09-30", "Content-Length": str(2**30)}
    )
    assert (status, error["Code"]) == (400, "IncompleteSignature")
    assert local_imm.calls == []


def test_a_signed_body_over_the_limit_is_refused_before_it_is_read(local_oss: LocalOss, local_imm: LocalImm) -> None:
    prepared = signed_post(local_imm, local_oss.access_key_id, local_oss.access_key_secret,
                           query={"ProjectName": DEFAULT_PROJECT, "SourceURI": "oss://test-bucket/a.jpg"}).prepare()  # fmt: skip
    headers = {k: str(v) for k, v in prepared.headers.items() if k.lower() not in ("host", "content-length")}
    status, error = _answer_to_headers_only(
        local_imm, {**headers, "Content-Length": str(256 * 2**20)}, prepared.path_url
    )
    assert (status, error["Code"]) == (413, "RequestEntityTooLarge")


def test_an_object_over_the_engines_size_limit_is_refused_unread(
    local_oss: LocalOss, local_imm: LocalImm, oss_bucket: oss2.Bucket, face_jpeg: bytes
) -> None:
    """A photo padded past OSSFACES_MAX_IMAGE_BYTES (a JPEG decodes fine with bytes after its end): not read, not
    analysed; IMM's InvalidArgument names the limit."""
    limit = Settings().max_image_bytes
    oss_bucket.put_object("photos/huge.jpg", face_jpeg + bytes(limit))
    client = sdk_client(local_imm, *local_oss.issue_sts(600))
    error = _refused(lambda: detect(client, DEFAULT_PROJECT, f"oss://{oss_bucket.bucket_name}/photos/huge.jpg"))
    assert (error.status_code, error.code) == (400, "InvalidArgument") and "OSSFACES_MAX_IMAGE_BYTES" in error.message


def test_parameters_in_a_signed_form_body_work(local_oss: LocalOss, local_imm: LocalImm, photo: str) -> None:
    """The endpoint reads the parameters from the query or from a form body; the signature covers the body by its
    hash, not as query parameters."""
    form = {"ProjectName": DEFAULT_PROJECT, "SourceURI": photo}
    request = signed_post(local_imm, local_oss.access_key_id, local_oss.access_key_secret, form=form)
    with requests.Session() as session:
        answer = session.send(request.prepare(), timeout=60)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["Faces"]) == 1


def test_a_nonce_is_refused_after_a_restart_too(local_oss: LocalOss, detector: FaceDetector, photo: str) -> None:
    """The nonces live in the stack's data directory: a request replayed after a restart of the endpoint (within the
    15-minute window) is refused as it would be before."""
    query = {"ProjectName": DEFAULT_PROJECT, "SourceURI": photo}
    answers = []
    for _ in range(2):
        with LocalImm(local_oss, detector, port=0) as imm, requests.Session() as session:
            request = signed_post(imm, local_oss.access_key_id, local_oss.access_key_secret, query=query, nonce="n-1")
            answers.append(session.send(request.prepare(), timeout=60))
    assert answers[0].status_code == 200, answers[0].text
    assert (answers[1].status_code, answers[1].json()["Code"]) == (400, "SignatureNonceUsed")


def test_imm_detectface_refuses_an_object_over_the_limit_unread(
    local_oss: LocalOss, oss_bucket: oss2.Bucket, face_jpeg: bytes
) -> None:
    """IMM v1's path on the local OSS (``x-oss-process=imm/detectface``) reads no more than the engine would."""
    from ossfaces_localstack.detectface import imm_detectface

    seen: list[int] = []

    def detector(data: bytes) -> list[dict[str, Any]]:
        seen.append(len(data))
        return []

    local_oss.set_processor("imm/detectface", imm_detectface(detector))
    oss_bucket.put_object("photos/small.jpg", face_jpeg)
    oss_bucket.put_object("photos/huge.jpg", face_jpeg + bytes(Settings().max_image_bytes))
    assert oss_bucket.get_object("photos/small.jpg", process="imm/detectface").read()
    with pytest.raises(oss2.exceptions.ServerError) as refused:
        oss_bucket.get_object("photos/huge.jpg", process="imm/detectface")
    assert (refused.value.status, refused.value.code) == (400, "InvalidImage.TooLarge")
    assert seen == [len(face_jpeg)]
