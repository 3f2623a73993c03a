"""Helpers of the local IMM v2 tests: the official SDK client pointed at the local endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import oss2
from alibabacloud_imm20200930 import models
from alibabacloud_imm20200930.client import Client
from alibabacloud_tea_openapi import models as open_api
from darabonba.runtime import RuntimeOptions

from ossfaces_localstack.imm import LocalImm


def sdk_client(imm: LocalImm, key_id: str, secret: str, token: str = "") -> Client:
    """``alibabacloud-imm20200930``'s client as a user configures it, with the local endpoint over http."""
    config = open_api.Config(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token or None,
        type="sts" if token else "access_key",
        region_id=imm.region,
        endpoint=imm.endpoint.removeprefix("http://"),
        protocol="http",
    )
    return Client(config)


def detect(client: Client, project: str, source_uri: str) -> dict[str, Any]:
    """One DetectImageFaces call; the response body as a dict (wire names)."""
    request = models.DetectImageFacesRequest(project_name=project, source_uri=source_uri)
    body: dict[str, Any] = client.detect_image_faces_with_options(request, RuntimeOptions()).body.to_map()
    return body


EVENTS = Path(__file__).resolve().parents[2] / "events"


def event_for(bucket: oss2.Bucket, key: str) -> bytes:
    """events/oss_put_jpg.json retargeted at an object that exists in the local OSS (its key, size and ETag)."""
    payload = json.loads((EVENTS / "oss_put_jpg.json").read_text(encoding="utf-8"))
    head = bucket.head_object(key)
    record = payload["events"][0]
    record["oss"]["bucket"]["name"] = bucket.bucket_name
    record["oss"]["object"].update(key=key, size=head.content_length, eTag=head.etag)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
