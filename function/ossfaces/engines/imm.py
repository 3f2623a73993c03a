"""Engine ``imm``: ``bucket.get_object(key, process="imm/detectface")`` as the product brief shows, parsed leniently.

IMM's documented sample is not strict JSON (trailing commas), so the body is repaired before parsing; a body that still
cannot be read, or has no ``Faces``, becomes a ``BadImage`` so the pipeline writes an ``Error`` document instead of retrying.
"""

from __future__ import annotations

import json
import re
from typing import Any

import oss2

from ossfaces.engines import EngineResult, Photo, if_match
from ossfaces.errors import BadImage, ConfigError, OssFacesError
from ossfaces.settings import Settings

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# A JSON string literal (kept as is), or a comma followed only by blanks and a closing bracket (dropped).
_STRING_OR_TRAILING_COMMA = re.compile(r'("(?:\\.|[^"\\])*")|,(\s*[}\]])')


def parse_lenient(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``, tolerating trailing commas; ``ValueError`` if it is not a JSON object."""
    text = body.decode("utf-8-sig")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = json.loads(_STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), text))
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


class ImmEngine:
    name = "imm"

    def __init__(self, settings: Settings) -> None:
        self.process = settings.imm_process
        self.version = f"{settings.imm_process}@v1"

    def analyze(self, photo: Photo) -> EngineResult:
        try:
            response = photo.bucket.get_object(photo.key, process=self.process, headers=if_match(photo.etag))
        except oss2.exceptions.ServerError as exc:
            refusal = _imm_refusal(exc)
            if refusal is None:
                raise
            raise refusal from exc
        body = response.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise BadImage("InvalidEngineResponse", f"IMM answered more than {MAX_RESPONSE_BYTES} bytes")
        try:
            document = parse_lenient(body)
        except ValueError as exc:
            raise BadImage(
                "InvalidEngineResponse", f"IMM's answer is not JSON: {exc}; starts with {body[:80]!r}"
            ) from exc
        faces = document.pop("Faces", None)
        if not isinstance(faces, list):
            code = str(document.get("Code") or document.get("ErrorCode") or "InvalidEngineResponse")
            message = str(document.get("Message") or document.get("ErrorMessage") or "IMM's answer has no Faces list")
            raise BadImage(code, message, document.get("RequestId"))
        return EngineResult(faces=faces, image=None, extra=document)


def _imm_refusal(exc: oss2.exceptions.ServerError) -> OssFacesError | None:
    """A 400 from image processing is about the photo; a 403 means IMM is not usable; anything else: None, the pipeline classifies it."""
    if (exc.status == 400 and exc.code not in {"InvalidArgument", "InvalidRequest"}) or exc.status == 415:
        return BadImage(
            str(exc.code or "InvalidImage"), str(exc.message or "IMM could not analyse the image"), exc.request_id
        )
    # Credentials and a frozen (archived) photo are not about IMM: ``storage.classify`` says what to do about those.
    if exc.status == 403 and exc.code not in {
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "SecurityTokenExpired",
        "InvalidObjectState",
    }:
        return ConfigError(
            str(exc.code or "AccessDenied"),
            f"IMM processing refused: {exc.message} (fix: bind an IMM project to the bucket and allow the function's role "
            "oss:ProcessImm, or set OSSFACES_ENGINE=local)",
            exc.request_id,
        )
    return None
