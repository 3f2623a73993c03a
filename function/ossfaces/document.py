"""The ``<key>.faces.json`` document: IMM v1 ``detectface`` shape plus what this project adds (docs/design.md "Contracts").

IMM's own fields keep IMM's names and pass through even when unknown (``extra="allow"``). What the project adds is
``Source``, ``Engine``, ``Image``, ``ProcessedAt``, ``SchemaVersion`` and, when the photo could not be analysed, ``Error``.
Serialised without ``None`` values: a field the engine cannot honestly fill is absent, not null.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ossfaces.embedding import (
    EMBEDDING_DIMENSIONS,
    EMBEDDING_FORMAT,
    EMBEDDING_MODEL,
    decode_vector,
    embedding_field,
)
from ossfaces.errors import OssFacesError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

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


class FaceEmbedding(_Ours):
    """The face's identity vector (local engine only), for clustering faces into people.

    Written only for faces large and sharp enough to identify; absent otherwise. ``Data`` is the base64 of 128
    little-endian IEEE float16 values, the L2-normalised SFace vector: the cosine of two faces is the dot product of
    their vectors (OpenCV publishes 0.363 as SFace's same-person threshold on LFW; tune it on your own data).
    ``CanSeed`` says whether the face meets IMM v2's rule for founding a person: shorter box side >= 75 px,
    ``|Yaw|``, ``|Pitch|``, ``|Roll|`` < 30 degrees, ``FaceQuality`` >= 0.8; other faces may join an existing person
    but never found one. A consumer must compare only vectors of the same ``Model`` and ``Format``. Wire format and
    helpers without pydantic: :mod:`ossfaces.embedding`.
    """

    Model: str = Field(description=f"The network that made the vector; today {EMBEDDING_MODEL!r}.")
    Format: str = Field(
        description=f"{EMBEDDING_FORMAT!r}: base64 of {EMBEDDING_DIMENSIONS} little-endian float16, L2-normalised."
    )
    Data: str
    CanSeed: bool = Field(description="The face may found a new person (IMM v2's seeding rule), not only join one.")

    @classmethod
    def of(cls, vector: Sequence[float] | NDArray[Any], *, can_seed: bool) -> FaceEmbedding:
        """Encode a vector (:func:`ossfaces.embedding.encode_vector`: L2-normalised, float16, base64)."""
        return cls.model_validate(embedding_field(vector, can_seed=can_seed))

    def vector(self) -> NDArray[np.float32]:
        """The vector as float32 (ValueError for an unknown format or a wrong length)."""
        return decode_vector(self.Data, self.Format)


class Face(_Imm):
    """One face in IMM v1's conventions, whatever the engine: IMM v1 fields, IMM v2's own fields under v2's names
    (``engines.imm2`` maps the rest), and the local engine's documented extensions (``Landmarks``, ``Sharpness``,
    ``Embedding``)."""

    FaceId: str | None = None
    FaceConfidence: float | None = None
    Age: int | None = None
    Gender: str | None = Field(None, description="MALE or FEMALE (IMM v2's female/male upper-cased)")
    GenderConfidence: float | None = None
    Emotion: str | None = Field(
        None, description="One of " + ", ".join(EMOTIONS) + " (IMM v2 labels mapped; an unknown label kept as sent)"
    )
    EmotionConfidence: float | None = None
    EmotionDetails: Emotions | None = None
    FaceQuality: float | None = None
    Attractive: float | None = None
    FaceAttributes: Attributes | None = None
    AgeSD: float | None = Field(
        None,
        description="Spread of Age in years (IMM v2; the local engine: its age model's own spread, docs/calibration.md).",
    )
    Landmarks: list[Point] | None = Field(
        None, description="Local engine: eyes, nose tip, mouth corners (image pixels)."
    )
    Sharpness: float | None = Field(None, description="0 (blurred) to 1 (sharp): IMM v2, and the local engine.")
    Mouth: str | None = Field(None, description="IMM v2 only, as IMM writes it: open or close.")
    MouthConfidence: float | None = None
    Hat: str | None = Field(None, description="IMM v2 only, as IMM writes it (e.g. none).")
    HatConfidence: float | None = None
    FigureId: str | None = Field(None, description="IMM v2 only: IMM's id of this face.")
    FigureClusterId: str | None = Field(
        None, description="IMM v2 only: the person cluster (figure-cluster-id-unavailable when not clustered)."
    )
    FigureClusterConfidence: float | None = None
    FigureType: str | None = Field(None, description="IMM v2 only: face.")
    Embedding: FaceEmbedding | None = Field(
        None, description="Local engine: identity vector for faces large and sharp enough to identify; else absent."
    )
    Forgotten: bool | None = Field(
        None,
        description="True for a face `ossfaces people forget` forgot: it carries no Embedding and no Figure* field, "
        "and no re-analysis gives it one (docs/people.md).",
    )


class SourceInfo(_Ours):
    Bucket: str | None = None
    Key: str
    ETag: str | None = None
    Size: int | None = None
    EventName: str | None = None
    EventTime: datetime | None = None


class EngineInfo(_Ours):
    Name: str = Field(description="imm, imm2 or local")
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
