"""The local engine's faces (IMM v1 shape, as ``x-oss-process=imm/detectface`` answers) in IMM v2's ``Figure`` shape.

What DetectImageFaces returns (``alibabacloud_imm20200930.models.Figure``): lower-case ``Gender`` and ``Emotion``,
``Boundary`` and ``HeadPose`` at the top level, ``FigureConfidence``, ``FigureId``, ``FigureType``, cluster fields.
The local engine's extensions (``Landmarks``, ``Sharpness``, ``AgeSD``, ``Embedding``…) are kept: IMM v2 has
``Sharpness`` and ``AgeSD`` itself, and a consumer of the local endpoint loses nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# The seven v1 emotion names → the lower-case labels v2 writes ("happiness" is IMM's documented example).
EMOTIONS_V1_TO_V2 = {
    "HAPPY": "happiness",
    "CALM": "neutral",
    "SAD": "sadness",
    "ANGRY": "anger",
    "SURPRISED": "surprise",
    "SCARED": "fear",
    "DISGUSTED": "disgust",
}
UNCLUSTERED = "figure-cluster-id-unavailable"  # IMM's reserved value for a face that was not clustered


def v2_figure(face: Mapping[str, Any]) -> dict[str, Any]:
    """One v1-shaped face as a v2 ``Figure``."""
    figure = dict(face)
    attributes = dict(figure.pop("FaceAttributes", None) or {})
    figure.pop("EmotionDetails", None)  # v2 has no per-class scores
    if "FaceBoundary" in attributes:
        figure["Boundary"] = attributes.pop("FaceBoundary")
    if "HeadPose" in attributes:
        figure["HeadPose"] = attributes.pop("HeadPose")
    for name, value in attributes.items():
        figure[name] = value.lower() if isinstance(value, str) else value
    if "FaceConfidence" in figure:
        figure["FigureConfidence"] = figure.pop("FaceConfidence")
    face_id = figure.pop("FaceId", None)
    figure["FigureId"] = face_id or hashlib.sha256(json.dumps(figure, sort_keys=True).encode()).hexdigest()[:36]
    figure.setdefault("FigureType", "face")
    figure.setdefault("FigureClusterId", UNCLUSTERED)
    if isinstance(figure.get("Gender"), str):
        figure["Gender"] = figure["Gender"].lower()
    if isinstance(figure.get("Emotion"), str):
        figure["Emotion"] = EMOTIONS_V1_TO_V2.get(figure["Emotion"], figure["Emotion"].lower())
    return figure
