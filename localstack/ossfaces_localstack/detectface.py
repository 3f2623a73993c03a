"""The local face engine behind the stack's IMM answers: ``x-oss-process=imm/detectface`` on the local OSS (IMM v1's
shape) and, through the same detector, the local IMM v2 endpoint."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

from ossfaces.errors import BadImage
from ossfaces.settings import Settings
from ossfaces_localstack.oss import ProcessError, ProcessRequest, ProcessResult

IMM_DETECTFACE = "imm/detectface"

FaceDetector = Callable[[bytes], list[dict[str, Any]]]  # photo bytes → IMM v1 face dicts; raises BadImage


class LocalFaceDetector:
    """The local engine (``ossfaces.vision``), loaded on first use and shared by every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._analyzer: Any = None

    def _loaded(self) -> Any:
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    from ossfaces.vision import FaceAnalyzer

                    self._analyzer = FaceAnalyzer.load()
        return self._analyzer

    @property
    def version(self) -> str:
        """The engine version its own documents carry (models and calibration)."""
        return str(self._loaded().version)

    def __call__(self, data: bytes) -> list[dict[str, Any]]:
        return [dict(face) for face in self._loaded().analyze(data).faces]


def local_face_detector() -> FaceDetector:
    return LocalFaceDetector()


def imm_detectface(
    detector: FaceDetector, max_image_bytes: int | None = None
) -> Callable[[ProcessRequest], ProcessResult]:
    """An ``x-oss-process=imm/detectface`` processor answering like IMM v1; a photo it cannot read is a 400, as IMM's.
    An object over ``max_image_bytes`` (default: the function's ``OSSFACES_MAX_IMAGE_BYTES``) is refused unread."""
    limit = max_image_bytes if max_image_bytes is not None else Settings().max_image_bytes

    def process(request: ProcessRequest) -> ProcessResult:
        request_id = secrets.token_hex(12).upper()
        if request.size > limit:
            raise ProcessError(
                400,
                "InvalidImage.TooLarge",
                f"the object is {request.size} bytes, more than the {limit} read for an analysis "
                f"(OSSFACES_MAX_IMAGE_BYTES; IMM request {request_id})",
            )
        try:
            faces = detector(request.path.read_bytes())
        except BadImage as exc:
            raise ProcessError(400, exc.code, f"{exc.message} (IMM request {request_id})") from exc
        document = {
            "Faces": faces,
            "ImageUri": f"oss://{request.bucket}/{request.key}",
            "RequestId": request_id,
            "httpStatusCode": 200,
            "success": True,
        }
        if isinstance(detector, LocalFaceDetector):  # no real IMM answer has it: stats tells these faces from IMM's
            document["LocalStandIn"] = f"local/{detector.version}"
        return 200, "application/json", json.dumps(document, ensure_ascii=False).encode("utf-8")

    return process
