"""Helpers of the local IMM v2 tests: the official SDK client pointed at the local endpoint."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import oss2
import requests
from alibabacloud_imm20200930 import models
from alibabacloud_imm20200930.client import Client
from alibabacloud_tea_openapi import models as open_api
from alibabacloud_tea_openapi.utils import Utils
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


def signed_post(
    imm: LocalImm,
    key_id: str,
    secret: str,
    *,
    query: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    nonce: str | None = None,
) -> requests.Request:
    """A DetectImageFaces POST signed by the SDK's own signer (``Utils.get_authorization``), its parameters in the
    query or in a form body (``application/x-www-form-urlencoded``), as a prepared ``requests`` request."""
    body = urlencode(form).encode() if form else b""
    payload = hashlib.sha256(body).hexdigest()
    host = imm.endpoint.removeprefix("http://")
    headers = {
        "host": host,
        "x-acs-action": "DetectImageFaces",
        "x-acs-version": "2020-09-30",
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": payload,
    }
    if form:
        headers["content-type"] = "application/x-www-form-urlencoded"
    wire = SimpleNamespace(pathname="/", method="POST", query=query or {}, headers=headers)
    headers["authorization"] = Utils.get_authorization(wire, "ACS3-HMAC-SHA256", payload, key_id, secret)
    return requests.Request("POST", imm.endpoint + "/", params=query or {}, headers=headers, data=body)
