"""The ``<key>.faces.json`` document: IMM v1 ``detectface`` shape plus what this project adds (DESIGN.md "Output").

IMM's own fields keep IMM's names and pass through even when unknown (``extra="allow"``). What the project adds is
``Source``, ``Engine``, ``Image``, ``ProcessedAt``, ``SchemaVersion`` and, when the photo could not be analysed, ``Error``.
Serialised without ``None`` values: a field the engine cannot honestly fill is absent, not null.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ossfaces.errors import OssFacesError

SCHEMA_VERSION = "1.0"
EMOTIONS = ("ANGRY", "CALM", "DISGUSTED", "HAPPY", "SAD", "SCARED", "SURPRISED")


class _Imm(BaseModel):
    """IMM-shaped: unknown fields IMM may add are kept."""

    model_config = ConfigDict(extra="allow")


class _Ours(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Boundary(_Imm):
    Left: int
    Top: int
    Width: int
    Height: int


class Pose(_Imm):
    """Degrees. Pitch: positive looking up; Yaw: positive turned to the photo's left; Roll: positive tilted clockwise."""

    Pitch: float
    Roll: float
    Yaw: float


class Attributes(_Imm):
    FaceBoundary: Boundary
    HeadPose: Pose | None = None
    Glasses: str | None = None
    GlassesConfidence: float | None = None
    Beard: str | None = None
    BeardConfidence: float | None = None
    Mask: str | None = None
    MaskConfidence: float | None = None
    Race: str | None = None
    RaceConfidence: float | None = None


class Emotions(_Imm):
    ANGRY: float
    CALM: float
    DISGUSTED: float
    HAPPY: float
    SAD: float
    SCARED: float
    SURPRISED: float


class Point(_Imm):
    X: float
    Y: float


class Face(_Imm):
    """One face. IMM v1 fields, plus the local engine's documented extensions (``Landmarks``, ``Sharpness``)."""

    FaceId: str | None = None
    FaceConfidence: float | None = None
    Age: int | None = None
    AgeSD: float | None = Field(
        None, description="Local engine: the age model's spread in years (IMM v2's name); see the calibration notes."
    )
    Gender: str | None = Field(None, description="MALE or FEMALE")
    GenderConfidence: float | None = None
    Emotion: str | None = Field(None, description="One of " + ", ".join(EMOTIONS))
    EmotionConfidence: float | None = None
    EmotionDetails: Emotions | None = None
    FaceQuality: float | None = None
    Attractive: float | None = None
    FaceAttributes: Attributes | None = None
    Landmarks: list[Point] | None = Field(
        None, description="Local engine: eyes, nose tip, mouth corners (image pixels)."
    )
    Sharpness: float | None = Field(None, description="Local engine: 0 (blurred) to 1 (sharp).")


class SourceInfo(_Ours):
    Bucket: str | None = None
    Key: str
    ETag: str | None = None
    Size: int | None = None
    EventName: str | None = None
    EventTime: datetime | None = None


class EngineInfo(_Ours):
    Name: str
    Version: str


class ImageDetails(_Ours):
    """The document's ``Image`` block. (The decoder's own record of an image is ``ossfaces.vision.ImageInfo``; the
    local engine maps one to the other in ``engines.local.image_block``.)"""

    Width: int | None = None
    Height: int | None = None
    Format: str | None = None
    Orientation: int | None = Field(None, description="EXIF orientation (1-8) that was applied before measuring boxes.")


class ErrorInfo(_Ours):
    Code: str
    Message: str
    RequestId: str | None = None


class FacesDocument(_Imm):
    """What lies in ``<key>.faces.json``."""

    SchemaVersion: str = SCHEMA_VERSION
    Source: SourceInfo
    Engine: EngineInfo
    Image: ImageDetails | None = None
    Faces: list[Face] = Field(default_factory=list)
    ImageUri: str | None = None
    RequestId: str | None = None
    ProcessedAt: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    Error: ErrorInfo | None = None

    @classmethod
    def build(
        cls,
        source: SourceInfo,
        engine: EngineInfo,
        *,
        faces: list[dict[str, Any]] | None = None,
        image: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        error: OssFacesError | None = None,
    ) -> FacesDocument:
        """The one way a document is made: an engine's answer (IMM's top-level fields in ``extra``) or an error."""
        return cls.model_validate(
            {
                **(extra or {}),
                "Source": source,
                "Engine": engine,
                "Image": ImageDetails.model_validate(image) if image else None,
                "Faces": faces or [],
                "Error": ErrorInfo(Code=error.code, Message=error.message, RequestId=error.request_id)
                if error
                else None,
            }
        )

    def to_json(self) -> bytes:
        """UTF-8 JSON without null fields, as written to OSS."""
        return self.model_dump_json(exclude_none=True).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def json_schema() -> str:
    """The published JSON Schema of the document (``schema/faces.schema.json``), generated from the models."""
    schema = FacesDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://github.com/ossfaces/ossfaces/schema/faces-{SCHEMA_VERSION}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
