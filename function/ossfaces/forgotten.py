"""Faces a user had ``ossfaces people forget`` forget: never given an identity (embedding, IMM's figure) again.

The mark travels with the photo's result, so the function reads it at no extra cost (docs/people.md, "Forget"):

- the result's metadata ``x-oss-meta-ossfaces-forgotten`` lists the boxes of the forgotten faces (``L,T,W,H;…``).
  The idempotency check already makes one HEAD of the result before any analysis; a re-analysis (a new engine
  version, a changed photo, a backfill) strips the identity fields from every new face that stands where a forgotten
  face stood, marks it ``"Forgotten": true``, and carries the metadata over to the result it writes;
- in the body, a forgotten face has ``"Forgotten": true`` and none of :data:`IDENTITY_FIELDS`.

Positions, not indices: another engine version may find the faces of a photo in another order, or one more or less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

META_FORGOTTEN = "x-oss-meta-ossfaces-forgotten"
IDENTITY_FIELDS = ("Embedding", "FigureId", "FigureClusterId", "FigureClusterConfidence")
"""What identifies a face across photos: the local engine's vector, IMM v2's figure and cluster."""
OVERLAP = 0.3
"""Intersection over union from which a face stands where a forgotten face stood. Lower than the 0.5 that matches
the same face across analyses (``ossfaces_tools.people``): forgetting one face too many only loses its clustering."""
MAX_MARKS = 300
"""Boxes the metadata can carry (OSS allows 8 KB of user metadata; a box is at most 24 characters)."""

Box = tuple[int, int, int, int]


def encode_boxes(boxes: Iterable[Box]) -> str:
    """``L,T,W,H;L,T,W,H``: the metadata's value (ASCII, the first :data:`MAX_MARKS` boxes)."""
    return ";".join(",".join(str(int(v)) for v in box) for box in list(dict.fromkeys(boxes))[:MAX_MARKS])


def decode_boxes(value: str | None) -> list[Box]:
    """The boxes of a metadata value; a malformed part is skipped (the value is written by this project only)."""
    boxes: list[Box] = []
    for part in (value or "").split(";"):
        numbers = part.split(",")
        if len(numbers) == 4 and all(n.strip().lstrip("-").isdigit() for n in numbers):
            left, top, width, height = (int(n) for n in numbers)
            boxes.append((left, top, width, height))
    return boxes


def box_of(face: Mapping[str, Any]) -> Box | None:
    """A face's box as the document writes it (``FaceAttributes.FaceBoundary``, IMM's ``Boundary`` as a fallback)."""
    boundary = (face.get("FaceAttributes") or {}).get("FaceBoundary") or face.get("Boundary")
    if not isinstance(boundary, Mapping):
        return None
    try:
        return tuple(int(boundary[k]) for k in ("Left", "Top", "Width", "Height"))  # type: ignore[return-value]
    except (KeyError, TypeError, ValueError):
        return None


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(left, top, width, height)`` boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def stands_at(box: Box | None, forgotten: Sequence[Box]) -> bool:
    """Whether a face at ``box`` stands where one of the ``forgotten`` faces stood."""
    return box is not None and any(iou(box, other) >= OVERLAP for other in forgotten)


def forget_faces(faces: list[dict[str, Any]], forgotten: Sequence[Box]) -> int:
    """Strip the identity of every face standing at a forgotten box, in place, and mark it; return how many."""
    count = 0
    for face in faces:
        if face.get("Forgotten") or stands_at(box_of(face), forgotten):
            for name in IDENTITY_FIELDS:
                face.pop(name, None)
            face["Forgotten"] = True
            count += 1
    return count
