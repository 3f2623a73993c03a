"""The real handler, through the real oss2 SDK, against the local OSS: results, idempotency and the error policy."""

from __future__ import annotations

import json
from collections.abc import Mapping

import oss2
import pytest

from ossfaces.document import FacesDocument
from ossfaces.errors import ConfigError, TransientError
from ossfaces.idempotency import META_ENGINE, META_SOURCE_ETAG, META_STATUS
from ossfaces.invocation import App
from ossfaces_localstack.oss import LocalOss

from .handler_support import Context, Handler, ImmStandIn, event_for, function_settings, raising

PHOTO = b"\xff\xd8\xff\xe0 not decoded by the IMM stand-in \xff\xd9"


def read_result(bucket: oss2.Bucket, key: str) -> tuple[FacesDocument, Mapping[str, str]]:
    result = bucket.get_object(key + ".faces.json")
    return FacesDocument.model_validate_json(result.read()), result.headers  # case-insensitive, as HTTP headers are


def test_upload_gets_a_result_with_metadata(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("photos/team.jpg", PHOTO)
    summary = handler(event_for(oss_bucket, "photos/team.jpg"), context)
    assert summary == {"records": 1, "processed": 1, "error-document": 0, "skipped": 0, "failed": 0}
    document, headers = read_result(oss_bucket, "photos/team.jpg")
    etag = oss_bucket.head_object("photos/team.jpg").etag
    assert headers["Content-Type"] == "application/json"
    assert headers[META_SOURCE_ETAG] == etag and headers[META_STATUS] == "ok"
    assert headers[META_ENGINE] == "imm/imm/detectface@v1"
    assert document.Source.Key == "photos/team.jpg" and document.Source.ETag == etag
    assert document.Source.Bucket == oss_bucket.bucket_name and document.Source.EventName == "ObjectCreated:PutObject"
    assert document.Engine.Name == "imm" and document.Error is None
    assert [face.Age for face in document.Faces] == [31]
    assert document.ImageUri == f"oss://{oss_bucket.bucket_name}/photos/team.jpg"
    assert [call.process for call in imm.calls] == ["imm/detectface"]


def test_twenty_deliveries_cost_one_imm_call(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    event = event_for(oss_bucket, "a.jpg")
    outcomes = [handler(event, context) for _ in range(20)]
    assert len(imm.calls) == 1
    assert sum(o["processed"] for o in outcomes) == 1 and sum(o["skipped"] for o in outcomes) == 19


def test_new_version_of_the_photo_is_processed_again(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    handler(event_for(oss_bucket, "a.jpg"), context)
    oss_bucket.put_object("a.jpg", PHOTO + b"v2")
    handler(event_for(oss_bucket, "a.jpg"), context)
    assert len(imm.calls) == 2
    document, _ = read_result(oss_bucket, "a.jpg")
    assert document.Source.ETag == oss_bucket.head_object("a.jpg").etag


def test_stale_event_for_an_overwritten_photo_is_skipped(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    old_event = event_for(oss_bucket, "a.jpg")
    oss_bucket.put_object("a.jpg", PHOTO + b"newer")
    assert handler(old_event, context)["skipped"] == 1
    assert imm.calls == [] and not oss_bucket.object_exists("a.jpg.faces.json")


def test_deleted_photo_is_skipped(oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler) -> None:
    oss_bucket.put_object("gone.jpg", PHOTO)
    event = event_for(oss_bucket, "gone.jpg")
    oss_bucket.delete_object("gone.jpg")
    assert handler(event, context)["skipped"] == 1


def test_bad_image_gets_an_error_document_and_no_retry(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    imm.answer = raising(400, "InvalidImage.Corrupt", "the image data is corrupt")
    oss_bucket.put_object("bad.jpg", b"\xff\xd8 truncated")
    summary = handler(event_for(oss_bucket, "bad.jpg"), context)
    assert summary["error-document"] == 1
    document, headers = read_result(oss_bucket, "bad.jpg")
    assert document.Faces == [] and document.Error is not None
    assert document.Error.Code == "InvalidImage.Corrupt" and "corrupt" in document.Error.Message
    assert headers[META_STATUS] == "error"
    handler(event_for(oss_bucket, "bad.jpg"), context)  # a redelivery does not ask IMM again
    assert len(imm.calls) == 1


@pytest.mark.parametrize("body", [b"<html>gateway</html>", b'{"Faces": "nope"}', b"[1,2]", b""])
def test_unreadable_imm_answer_becomes_an_error_document(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, body: bytes, handler: Handler
) -> None:
    imm.answer = lambda r: (200, "application/json", body)
    oss_bucket.put_object("x.jpg", PHOTO)
    assert handler(event_for(oss_bucket, "x.jpg"), context)["error-document"] == 1
    document, _ = read_result(oss_bucket, "x.jpg")
    assert document.Error is not None and document.Faces == []


def test_imm_refusal_fails_with_what_to_fix(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    imm.answer = raising(403, "AccessDenied", "You have no right to access this IMM project")
    oss_bucket.put_object("x.jpg", PHOTO)
    with pytest.raises(ConfigError) as info:
        handler(event_for(oss_bucket, "x.jpg"), context)
    assert "bind an IMM project" in info.value.message
    assert not oss_bucket.object_exists("x.jpg.faces.json")


def test_an_archived_photo_fails_with_restore_it_not_a_permission_hint(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    """Archive (and colder) photos cannot be read until restored: OSS answers 403 InvalidObjectState, which is no
    permission problem. The event fails with what to do (FC's retries then go to its dead-letter destination); the
    photo stays, and a backfill after the restore gives it its result."""
    oss_bucket.put_object("cold.jpg", PHOTO, headers={"x-oss-storage-class": "Archive"})
    with pytest.raises(ConfigError) as info:
        handler(event_for(oss_bucket, "cold.jpg"), context)
    assert info.value.code == "InvalidObjectState"
    assert "RestoreObject" in info.value.message and "backfill" in info.value.message
    assert "grant" not in info.value.message
    assert not oss_bucket.object_exists("cold.jpg.faces.json")


def test_imm_server_error_is_retried_with_nothing_written(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    imm.answer = raising(503, "ServiceUnavailable", "please retry")
    oss_bucket.put_object("x.jpg", PHOTO)
    with pytest.raises(TransientError):
        handler(event_for(oss_bucket, "x.jpg"), context)
    assert not oss_bucket.object_exists("x.jpg.faces.json")
    imm.answer = lambda r: (200, "application/json", b'{"Faces": [],}')  # the retry succeeds
    assert handler(event_for(oss_bucket, "x.jpg"), context)["processed"] == 1


def test_wrong_secret_fails_with_a_hint(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("x.jpg", PHOTO)
    context.credentials.access_key_secret = "wrong"
    with pytest.raises(ConfigError) as info:
        handler(event_for(oss_bucket, "x.jpg"), context)
    assert info.value.code == "SignatureDoesNotMatch" and "fix:" in info.value.message


def test_unreachable_oss_is_transient(
    oss_bucket: oss2.Bucket, local_oss: LocalOss, context: Context, unused_port: int
) -> None:
    app = App(function_settings(local_oss, oss_endpoint=f"http://127.0.0.1:{unused_port}", oss_timeout=2))
    oss_bucket.put_object("x.jpg", PHOTO)
    with pytest.raises(TransientError):
        app.handle(event_for(oss_bucket, "x.jpg"), context)


def test_no_credentials_is_a_config_error(oss_bucket: oss2.Bucket, handler: Handler) -> None:
    class Bare:
        request_id = "r"

    with pytest.raises(ConfigError, match="role"):
        handler(event_for(oss_bucket, "x.jpg"), Bare())


def test_credentials_from_environment(oss_bucket: oss2.Bucket, imm: ImmStandIn, local_oss: LocalOss) -> None:
    """python3.12 and the custom runtime have no context.credentials: FC sets ALIBABA_CLOUD_* instead."""
    key_id, secret, token = local_oss.issue_sts(600)
    environ = {
        "OSSFACES_OSS_ENDPOINT": local_oss.endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": token,
    }
    app = App.from_environ(environ)
    oss_bucket.put_object("env.jpg", PHOTO)

    class NoCredentials:
        request_id = "r"

    assert app.handle(event_for(oss_bucket, "env.jpg"), NoCredentials())["processed"] == 1


def test_one_failing_record_does_not_stop_the_others(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("ok.jpg", PHOTO)
    ok = json.loads(event_for(oss_bucket, "ok.jpg"))["events"][0]
    missing_bucket = json.loads(event_for(oss_bucket, "ok.jpg"))["events"][0]
    missing_bucket["oss"]["bucket"]["name"] = "no-such-bucket-here"
    with pytest.raises(ConfigError, match="NoSuchBucket|bucket"):
        handler(json.dumps({"events": [missing_bucket, ok]}).encode(), context)
    assert oss_bucket.object_exists("ok.jpg.faces.json")


def test_one_json_log_line_per_record_with_a_face_summary(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, caplog: pytest.LogCaptureFixture, handler: Handler
) -> None:
    """The line SLS queries aggregate (docs/stats.md, "SQL over the function's logs"): ages, genders, emotions per face."""
    oss_bucket.put_object("a.jpg", PHOTO)
    caplog.set_level("INFO", logger="ossfaces")
    handler(event_for(oss_bucket, "a.jpg"), context)
    handler(event_for(oss_bucket, "a.jpg"), context)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ossfaces"]
    processed, skipped = lines
    assert processed["action"] == "processed" and processed["faces"] == 1
    assert processed["ages"] == [31] and processed["genders"] == ["FEMALE"] and processed["emotions"] == [None]
    assert processed["request_id"] == context.request_id and processed["duration_ms"] > 0
    assert skipped["action"] == "skipped" and "up to date" in skipped["reason"] and "ages" not in skipped
    assert (
        context.credentials.access_key_secret not in caplog.text
        and context.credentials.security_token not in caplog.text
    )


@pytest.mark.parametrize("bucket_name", ["../x", "UPPER", "a"])
def test_invalid_bucket_name_in_the_event_is_a_configuration_error(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler, bucket_name: str
) -> None:
    """Issue 11 item 13: oss2 refuses such a name client-side (ClientError); that is no reason to retry."""
    oss_bucket.put_object("x.jpg", PHOTO)
    payload = json.loads(event_for(oss_bucket, "x.jpg"))
    payload["events"][0]["oss"]["bucket"]["name"] = bucket_name
    with pytest.raises(ConfigError) as info:
        handler(json.dumps(payload).encode(), context)
    assert info.value.code == "InvalidBucketName" and bucket_name in info.value.message
    assert "trigger" in info.value.message and imm.calls == []
