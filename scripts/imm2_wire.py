"""Print one DetectImageFaces exchange with the local IMM v2 endpoint, as the official SDK makes it.

    PYTHONPATH=function python scripts/imm2_wire.py

Starts a local OSS + the local IMM v2 endpoint in a temporary directory, uploads scikit-image's astronaut with oss2,
calls DetectImageFaces with ``alibabacloud-imm20200930`` (STS credentials issued by the local OSS) and prints the HTTP
request line and headers the SDK sent, then the status and JSON body the endpoint answered (secrets elided).
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import oss2
from alibabacloud_imm20200930 import models
from alibabacloud_imm20200930.client import Client
from alibabacloud_tea_openapi import models as open_api
from darabonba.runtime import RuntimeOptions
from PIL import Image
from skimage import data

from ossfaces_localstack.detectface import local_face_detector
from ossfaces_localstack.imm import DEFAULT_PROJECT, LocalImm
from ossfaces_localstack.oss import LocalOss


def main() -> None:
    photo = io.BytesIO()
    Image.fromarray(data.astronaut()).save(photo, "JPEG", quality=90)
    seen: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch, LocalOss(Path(scratch), buckets=["ossfaces-photos"]) as oss:
        oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, "ossfaces-photos").put_object(
            "photos/astronaut.jpg", photo.getvalue()
        )
        with LocalImm(oss, local_face_detector()) as imm:
            inner = imm.app.app

            async def spy(scope: Any, receive: Any, send: Any) -> None:
                """Records the request the SDK sent and the response the endpoint gave, as on the wire."""
                exchange: dict[str, Any] = {
                    "line": f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}",
                    "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                    "body": b"",
                }
                seen.append(exchange)

                async def recording_send(message: Any) -> None:
                    if message["type"] == "http.response.start":
                        exchange["status"] = message["status"]
                    elif message["type"] == "http.response.body":
                        exchange["body"] += message.get("body", b"")
                    await send(message)

                await inner(scope, receive, recording_send)

            imm.app.app = spy  # type: ignore[assignment]
            key_id, secret, token = oss.issue_sts(600)
            config = open_api.Config(
                access_key_id=key_id, access_key_secret=secret, security_token=token, type="sts",
                region_id=oss.region, endpoint=imm.endpoint.removeprefix("http://"), protocol="http",
            )  # fmt: skip
            request = models.DetectImageFacesRequest(
                project_name=DEFAULT_PROJECT, source_uri="oss://ossfaces-photos/photos/astronaut.jpg"
            )
            Client(config).detect_image_faces_with_options(request, RuntimeOptions())
    (sent,) = seen
    print(sent["line"])
    for name, value in sorted(sent["headers"].items()):
        if name in ("x-acs-security-token",):
            value = value[:12] + "…"
        print(f"{name}: {value}")
    print()
    print(f"HTTP {sent['status']}")
    json.dump(json.loads(sent["body"]), sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
