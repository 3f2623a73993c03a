"""Engine ``imm2``: IMM v2's ``DetectImageFaces`` (API 2020-09-30) through the official SDK, mapped to the document.

IMM v2 replaces ``imm/detectface`` (v1 survives only in five China regions). The call is an OpenAPI request signed
with the function's credentials (``alibabacloud-imm20200930`` over ``alibabacloud-tea-openapi``, ACS3-HMAC-SHA256),
``ProjectName`` = ``OSSFACES_IMM_PROJECT`` and ``SourceURI`` = ``oss://bucket/key``; IMM reads the photo itself through
the project's service role. The answer is mapped to the document's conventions (``document_face``) so that consumers
never need to know which engine ran: ``Gender`` FEMALE/MALE, ``Emotion`` one of the seven v1 names,
``FaceAttributes{FaceBoundary, HeadPose, Glasses, Beard, Mask}`` as in v1, ``FigureConfidence`` as ``FaceConfidence``;
v2-only fields keep v2's names (``AgeSD``, ``Mouth``, ``Hat``, ``FigureId``, ``FigureClusterId``, ...); unknown fields
and unknown values pass through as IMM sent them.

DetectImageFaces cannot pin a version of the object the way ``If-Match`` does, so the version is checked with a
conditional HEAD before and after the call: a photo overwritten meanwhile is skipped (its own event processes it).
IMM's refusals are read in ``imm2_errors`` (OSS's in ``storage.classify``). The SDK is imported only when this engine
is built.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ossfaces.engines import EngineResult, Photo, if_match
from ossfaces.engines.imm2_errors import classify_imm2
from ossfaces.errors import ConfigError
from ossfaces.settings import Settings
from ossfaces.storage import Credentials, classify

API_VERSION = "2020-09-30"

# v2's lower-case emotion labels → the document's seven (IMM v1) names. Only "happiness" appears in IMM's own
# documentation; the others are the labels of the same seven classes as IMM's sibling services spell them. A label not
# in this table is kept verbatim (never guessed).
EMOTIONS_V2 = {
    "happiness": "HAPPY",
    "happy": "HAPPY",
    "neutral": "CALM",
    "calm": "CALM",
    "sadness": "SAD",
    "sad": "SAD",
    "anger": "ANGRY",
    "angry": "ANGRY",
    "surprise": "SURPRISED",
    "surprised": "SURPRISED",
    "fear": "SCARED",
    "scared": "SCARED",
    "disgust": "DISGUSTED",
    "disgusted": "DISGUSTED",
}
GENDERS_V2 = {"female": "FEMALE", "male": "MALE"}
# v2 top-level fields that v1 (and so the document) keeps inside FaceAttributes; values upper-cased as v1 writes them.
IN_ATTRIBUTES = ("Glasses", "Beard", "Mask")


def document_face(figure: Mapping[str, Any]) -> dict[str, Any]:
    """One v2 ``Figure`` in the document's conventions (see the module docstring); nothing is dropped."""
    face = dict(figure)
    attributes: dict[str, Any] = {}
    boundary = face.pop("Boundary", None)
    if boundary is not None:
        attributes["FaceBoundary"] = boundary
    pose = face.pop("HeadPose", None)
    if pose is not None:
        attributes["HeadPose"] = pose
    for name in IN_ATTRIBUTES:
        if name in face:
            value = face.pop(name)
            attributes[name] = value.upper() if isinstance(value, str) else value
        if f"{name}Confidence" in face:
            attributes[f"{name}Confidence"] = face.pop(f"{name}Confidence")
    if attributes:
        face["FaceAttributes"] = {**attributes, **(face.get("FaceAttributes") or {})}
    if "FigureConfidence" in face and "FaceConfidence" not in face:
        face["FaceConfidence"] = face.pop("FigureConfidence")
    gender = face.get("Gender")
    if isinstance(gender, str):
        face["Gender"] = GENDERS_V2.get(gender.lower(), gender)
    emotion = face.get("Emotion")
    if isinstance(emotion, str):
        face["Emotion"] = EMOTIONS_V2.get(emotion.lower(), emotion)
    return face


def split_endpoint(url: str) -> tuple[str, str]:
    """(protocol, host[:port]) for the SDK's Config from an endpoint with scheme."""
    parts = urlsplit(url)
    return (parts.scheme or "https"), (parts.netloc or parts.path)


class Imm2Engine:
    name = "imm2"

    def __init__(self, settings: Settings) -> None:
        if not settings.imm_project:
            raise ConfigError(
                "NoImmProject",
                "engine imm2 needs OSSFACES_IMM_PROJECT: the name of an IMM v2 project in the bucket's region "
                "(create it in the IMM console or with CreateProject, see docs/deploy.md)",
            )
        # The SDK takes ~1.2 s to import (aiohttp, credentials providers): pay it here, in FC's initializer, rather
        # than on the first photo.
        import alibabacloud_imm20200930.client  # noqa: F401

        self.settings = settings
        self.project = settings.imm_project
        self.version = f"DetectImageFaces@{API_VERSION}"
        self._clients: dict[tuple[str, str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # the raw JSON body of this thread's last answer (unknown fields pass through)

    def analyze(self, photo: Photo) -> EngineResult:
        from alibabacloud_imm20200930 import models
        from darabonba.runtime import RuntimeOptions

        credentials = photo.credentials
        if credentials is None:
            raise ConfigError("NoCredentials", "engine imm2 needs the invocation's credentials to call IMM")
        bucket = photo.bucket
        doing = f"DetectImageFaces on oss://{bucket.bucket_name}/{photo.key} (project {self.project})"
        bucket.head_object(photo.key, headers=if_match(photo.etag))  # 412 if overwritten since the event
        request = models.DetectImageFacesRequest(
            project_name=self.project, source_uri=f"oss://{bucket.bucket_name}/{photo.key}"
        )
        self._local.body = None
        try:
            response = self._client(credentials, photo.region).detect_image_faces_with_options(
                request, RuntimeOptions()
            )
        except Exception as exc:  # the SDK's own exception types, or the network under it
            raise classify_imm2(exc, doing) or classify(exc, doing) from exc
        bucket.head_object(photo.key, headers=if_match(photo.etag))  # the version IMM read is the event's
        body = self._local.body if isinstance(self._local.body, dict) else response.body.to_map()
        figures = body.get("Faces") or []
        extra = {name: value for name, value in body.items() if name != "Faces"}
        extra.setdefault("ImageUri", request.source_uri)
        return EngineResult(faces=[document_face(figure) for figure in figures], image=None, extra=extra)

    def _client(self, credentials: Credentials, region: str) -> Any:
        """One SDK client per credentials and region (FC rotates the STS credentials; a warm instance reuses it)."""
        key = (credentials.access_key_id, credentials.access_key_secret, credentials.security_token, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._new_client(credentials, region)
                self._clients = {key: client}  # keep only the current credentials
            return client

    def _new_client(self, credentials: Credentials, region: str) -> Any:
        from alibabacloud_imm20200930.client import Client
        from alibabacloud_tea_openapi import models as open_api

        local = self._local

        class RawBodyClient(Client):  # type: ignore[misc]
            """The official client, keeping the answer's JSON as sent (the typed models drop unknown fields)."""

            def call_api(self, params: Any, request: Any, runtime: Any) -> Any:
                result = super().call_api(params, request, runtime)
                local.body = result.get("body") if isinstance(result, dict) else None
                return result

        protocol, endpoint = split_endpoint(self.settings.imm_endpoint_for(region))
        timeout_ms = int(self.settings.oss_timeout * 1000)
        config = open_api.Config(
            access_key_id=credentials.access_key_id,
            access_key_secret=credentials.access_key_secret,
            security_token=credentials.security_token or None,
            type="sts" if credentials.security_token else "access_key",
            region_id=region,
            endpoint=endpoint,
            protocol=protocol,
            read_timeout=timeout_ms,
            connect_timeout=timeout_ms,
            user_agent="ossfaces",
        )
        return RawBodyClient(config)
