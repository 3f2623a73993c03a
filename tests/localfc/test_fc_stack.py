"""End to end: upload with oss2 to the local OSS → the trigger fires → the function (engine ``imm``, answered by the
local OSS's ``imm/detectface`` on the real local face engine) writes ``<key>.faces.json``."""

from __future__ import annotations

import io
import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fc2
import oss2
import pytest

from ossfaces.idempotency import CLAIM_SUFFIX
from ossfaces_localstack.detectface import imm_detectface, local_face_detector
from ossfaces_localstack.fc.invoker import DeliveryPolicy
from ossfaces_localstack.fc.runner import default_code_dir
from ossfaces_localstack.oss import ProcessError, ProcessRequest, ProcessResult
from ossfaces_localstack.stack import LocalStack

S_YAML = textwrap.dedent(
    """
    edition: 3.0.0
    name: faces
    vars: {{bucket: my-photos}}
    resources:
      faces:
        component: fc3
        props:
          region: cn-hangzhou
          functionName: faces
          code: {code}
          handler: index.handler
          timeout: 60
          environmentVariables:
            OSSFACES_RESULT_SUFFIX: .faces.json
            OSSFACES_MODELS_DIR: /code/models
            PATH: /opt/python3.10/bin
          instanceLifecycleConfig:
            initializer: {{handler: index.initializer, timeout: 60}}
          asyncInvokeConfig: {{maxAsyncRetryAttempts: 2}}
          triggers:
            - triggerName: photos-jpg
              triggerType: oss
              sourceArn: acs:oss:cn-hangzhou:${{config('AccountID')}}:${{vars.bucket}}
              triggerConfig:
                events: [oss:ObjectCreated:PutObject, oss:ObjectCreated:PostObject, oss:ObjectCreated:CompleteMultipartUpload]
                filter:
                  key: {{prefix: 'photos/', suffix: '{suffix}'}}
    """
)

StackFactory = Callable[..., LocalStack]


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[StackFactory]:
    started: list[LocalStack] = []

    def make(suffix: str = ".jpg", **kwargs: Any) -> LocalStack:
        project = tmp_path / f"project{len(started)}"
        project.mkdir()
        (project / "s.yaml").write_text(S_YAML.format(code=default_code_dir(), suffix=suffix), encoding="utf-8")
        kwargs.setdefault("policy", DeliveryPolicy(backoff_scale=0.01))
        stack = LocalStack(tmp_path / f"data{len(started)}", project_dir=project, fsync=False, **kwargs)
        started.append(stack.start())
        return stack

    yield make
    for stack in started:
        stack.stop()


def _bucket(stack: LocalStack) -> oss2.Bucket:
    return oss2.Bucket(
        oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, stack.bucket
    )


def _bigger(jpeg: bytes) -> bytes:
    """The same photo at 1024×1024, large enough for two multipart parts."""
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).resize((1024, 1024)).save(out, "JPEG", quality=95)
    assert out.tell() > 100 * 1024
    return out.getvalue()


def _result(bucket: oss2.Bucket, key: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(bucket.get_object(key + ".faces.json").read())
    return document


def test_upload_writes_faces_json(make_stack: StackFactory, face_jpeg: bytes) -> None:
    stack = make_stack()
    assert stack.bucket == "my-photos"  # the bucket named by the trigger's sourceArn
    bucket = _bucket(stack)
    key = "photos/宇航员 a+b.jpg"
    etag = bucket.put_object(key, face_jpeg).etag
    assert stack.wait_idle(30)
    document = _result(bucket, key)
    assert document["Engine"]["Name"] == "imm"
    assert document["Source"]["Key"] == key and document["Source"]["ETag"] == etag.strip('"').upper()
    assert len(document["Faces"]) == 1
    face = document["Faces"][0]
    box = face["FaceAttributes"]["FaceBoundary"]
    assert 100 < box["Left"] < 300 and 0 < box["Top"] < 200  # the astronaut's face, upper middle of 512×512
    (invocation,) = stack.invocations()
    assert (invocation.source, invocation.outcome, invocation.attempts) == ("trigger:photos-jpg", "succeeded", 1)
    assert json.loads(invocation.event)["events"][0]["oss"]["object"]["key"] == key
    assert any('"action": "processed"' in line for line in invocation.result.logs)  # type: ignore[union-attr]


def test_only_matching_keys_fire(make_stack: StackFactory, face_jpeg: bytes) -> None:
    stack = make_stack()
    bucket = _bucket(stack)
    bucket.put_object("elsewhere/a.jpg", face_jpeg)  # wrong prefix
    bucket.put_object("photos/a.png", face_jpeg)  # wrong suffix
    bucket.put_object("photos/notes.txt", b"hello")
    assert stack.wait_idle(10)
    assert stack.invocations() == []
    assert not bucket.object_exists("elsewhere/a.jpg.faces.json")


def test_multipart_upload_fires_complete_multipart(make_stack: StackFactory, face_jpeg: bytes) -> None:
    stack = make_stack()
    bucket = _bucket(stack)
    key = "photos/big.jpg"
    photo = _bigger(face_jpeg)
    upload_id = bucket.init_multipart_upload(key).upload_id
    cut = 100 * 1024  # OSS's smallest part but the last
    parts = [
        oss2.models.PartInfo(1, bucket.upload_part(key, upload_id, 1, photo[:cut]).etag),
        oss2.models.PartInfo(2, bucket.upload_part(key, upload_id, 2, photo[cut:]).etag),
    ]
    bucket.complete_multipart_upload(key, upload_id, parts)
    assert stack.wait_idle(30)
    (invocation,) = stack.invocations()
    assert json.loads(invocation.event)["events"][0]["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert len(_result(bucket, key)["Faces"]) == 1


def test_upload_does_not_wait_for_the_function(make_stack: StackFactory, face_jpeg: bytes) -> None:
    release = threading.Event()

    def slow(data: bytes) -> list[dict[str, Any]]:
        """Stand-in detector that blocks until the test releases it: only the timing matters here."""
        release.wait(10)
        return []

    stack = make_stack(detector=slow)
    bucket = _bucket(stack)
    bucket.put_object("photos/a.jpg", face_jpeg)  # returns while the function cannot finish
    assert not stack.wait_idle(0.2)  # the function is still running
    release.set()
    assert stack.wait_idle(10)
    assert _result(bucket, "photos/a.jpg")["Faces"] == []


def test_duplicate_deliveries_cost_one_imm_call(make_stack: StackFactory, face_jpeg: bytes) -> None:
    real = local_face_detector()
    calls: list[int] = []

    def counted(data: bytes) -> list[dict[str, Any]]:
        calls.append(len(data))
        return real(data)

    stack = make_stack(detector=counted, policy=DeliveryPolicy(duplicates=3), workers=1)
    bucket = _bucket(stack)
    bucket.put_object("photos/a.jpg", face_jpeg)
    assert stack.wait_idle(30)
    invocations = stack.invocations()
    assert [i.outcome for i in invocations] == ["succeeded"] * 3
    assert len(calls) == 1  # the function's idempotency: later copies see the result is up to date
    summaries = [i.result.value for i in invocations]  # type: ignore[union-attr]
    assert sum(s["processed"] for s in summaries) == 1 and sum(s["skipped"] for s in summaries) == 2


def test_transient_failure_is_retried(make_stack: StackFactory, face_jpeg: bytes) -> None:
    stack = make_stack()
    real = imm_detectface(local_face_detector())
    seen: list[str] = []

    def flaky(request: ProcessRequest) -> ProcessResult:
        seen.append(request.key)
        if len(seen) == 1:
            raise ProcessError(503, "ServiceUnavailable", "IMM is busy, try again")
        return real(request)

    stack.oss.set_processor("imm/detectface", flaky)
    bucket = _bucket(stack)
    bucket.put_object("photos/a.jpg", face_jpeg)
    assert stack.wait_idle(30)
    (invocation,) = stack.invocations()
    assert (invocation.outcome, invocation.attempts) == ("succeeded", 2)
    assert len(_result(bucket, "photos/a.jpg")["Faces"]) == 1


def test_bad_image_gets_an_error_document_without_retries(make_stack: StackFactory) -> None:
    stack = make_stack()
    bucket = _bucket(stack)
    bucket.put_object("photos/broken.jpg", b"\xff\xd8\xff this is not a JPEG at all" * 10)
    assert stack.wait_idle(30)
    (invocation,) = stack.invocations()
    assert (invocation.outcome, invocation.attempts) == ("succeeded", 1)
    document = _result(bucket, "photos/broken.jpg")
    assert document["Faces"] == [] and document["Error"]["Code"]


def test_trigger_loop_is_warned(make_stack: StackFactory, face_jpeg: bytes) -> None:
    stack = make_stack(suffix="")
    (static,) = stack.loop_warnings()
    assert "photos-jpg" in static and "suffix is empty" in static
    bucket = _bucket(stack)
    bucket.put_object("photos/a.jpg", face_jpeg)
    assert stack.wait_idle(30)
    warnings = stack.loop_warnings()
    assert len(warnings) == 2 and "photos/a.jpg.faces.json" in warnings[1]
    keys = [json.loads(i.event)["events"][0]["oss"]["object"]["key"] for i in stack.invocations()]
    # the function's guard ends the loop after one turn; its short-lived claim object fires the empty suffix too
    assert sorted(keys) == ["photos/a.jpg", "photos/a.jpg.faces.json", "photos/a.jpg.faces.json" + CLAIM_SUFFIX]
    assert stack.invocations()[1].result.value["skipped"] == 1  # type: ignore[union-attr]


def test_fc2_async_invocation_through_the_stack(make_stack: StackFactory, face_jpeg: bytes) -> None:
    stack = make_stack()
    bucket = _bucket(stack)
    bucket.put_object("other/a.jpg", face_jpeg)  # no trigger: backfill's case
    head = bucket.head_object("other/a.jpg")
    event = {"events": [{
        "eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-11-21T00:00:00.000Z",
        "region": stack.oss.region, "oss": {"bucket": {"name": stack.bucket},
                                            "object": {"key": "other/a.jpg", "size": head.content_length, "eTag": head.etag}},
    }]}  # fmt: skip
    assert stack.api is not None
    client = fc2.Client(endpoint=stack.api.endpoint, accessKeyID=stack.oss.access_key_id,
                        accessKeySecret=stack.oss.access_key_secret)  # fmt: skip
    function = stack.function()
    response = client.invoke_function(function.service or "any", function.name, payload=json.dumps(event).encode(),
                                      headers={"x-fc-invocation-type": "Async"})  # fmt: skip
    assert response.headers["x-fc-request-id"]
    assert stack.wait_idle(30)
    assert len(_result(bucket, "other/a.jpg")["Faces"]) == 1


def test_bootstrap_mode_end_to_end(make_stack: StackFactory, face_jpeg: bytes) -> None:
    if not (default_code_dir() / "bootstrap").is_file():
        pytest.skip("function/bootstrap is not in this checkout yet")
    stack = make_stack(mode="bootstrap")
    bucket = _bucket(stack)
    bucket.put_object("photos/a.jpg", face_jpeg)
    assert stack.wait_idle(60)
    (invocation,) = stack.invocations()
    assert invocation.outcome == "succeeded", invocation.error
    assert len(_result(bucket, "photos/a.jpg")["Faces"]) == 1


def test_engine_local_and_default_triggers(tmp_path: Path, face_jpeg: bytes) -> None:
    """No template.yml / s.yaml: one trigger per image suffix on ``ossfaces-local``; the function runs the local engine."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with LocalStack(tmp_path / "data", project_dir=empty, engine="local", fsync=False) as stack:
        assert stack.bucket == "ossfaces-local"
        bucket = _bucket(stack)
        bucket.put_object("x/a.jpeg", face_jpeg)
        assert stack.wait_idle(60)
        document = _result(bucket, "x/a.jpeg")
    assert document["Engine"]["Name"] == "local"
    assert len(document["Faces"]) == 1
