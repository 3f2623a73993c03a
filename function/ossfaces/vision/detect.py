"""Face detection with YuNet (``cv2.FaceDetectorYN``): boxes, five landmarks and a score, at two scales.

One pass at 640 px finds the faces that fill a photo. For large photos a second pass at up to 1920 px finds the small
faces of a group photo that the first pass loses to downscaling (YuNet's smallest reliable face is about 10-12 px at
its input). Both passes go through non-maximum suppression together, so a face seen twice is kept once, with the
higher-scoring detection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

COARSE_SIDE = 640
FINE_SIDE = 1920
"""Longest side of the second pass; about 65 ms on 2 cores, which keeps a 24-megapixel photo well under 400 ms."""
FINE_MAX_PIXELS = 1920 * 1280
"""... and at most this many pixels (a 3:2 photo's 1920 px): YuNet's working memory grows with the input's area, and
a square photo at 1920x1920 took 120 MiB more peak RSS than a 3:2 one; square photos get a 1568 px fine pass."""
FINE_TILE_PIXELS = 1_400_000
"""Larger pass images run as two halves overlapping by ``TILE_OVERLAP``: YuNet's working memory is about 80 MiB per
megapixel of input (200 MiB at 1920x1280, measured), and halves cost the same time. The fine pass keeps only faces
under 120 px at its scale, so a face cut by the seam is whole in one of the halves; NMS merges the doubles."""
TILE_OVERLAP = 128
NMS_IOU = 0.4
FINE_MAX_COARSE_PX = 40.0
"""The fine pass only contributes faces smaller than this at the coarse scale: large faces are the coarse pass's job,
and on a large face the fine pass sees skin texture and suit patches at a scale where YuNet makes false positives."""


@dataclass(frozen=True)
class Detection:
    """One face in array pixels: box (x, y, w, h), landmarks (5, 2) and YuNet's score.

    Landmark order is YuNet's: the eye on the image's left (the subject's right eye), the eye on the image's right,
    the nose tip, the mouth corner on the image's left, the mouth corner on the image's right.
    """

    box: NDArray[Any]
    landmarks: NDArray[Any]
    score: float

    def as_yunet_row(self) -> NDArray[Any]:
        """The 15-float row ``FaceRecognizerSF.alignCrop`` expects."""
        return np.concatenate([self.box, self.landmarks.reshape(-1), [self.score]]).astype(np.float32)


class Detector:
    """YuNet, one instance per thread (OpenCV nets keep per-call state and are not safe to share)."""

    def __init__(self, model: Path, score_threshold: float) -> None:
        self._model = str(model)
        self._score_threshold = score_threshold
        self._local = threading.local()

    def _net(self) -> cv2.FaceDetectorYN:
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.FaceDetectorYN.create(
                self._model, "", (COARSE_SIDE, COARSE_SIDE), self._score_threshold, 0.3, 5000
            )
            self._local.net = net
        return net

    def _pass(self, bgr: NDArray[Any], side: int, max_pixels: int | None = None) -> list[Detection]:
        """YuNet on ``bgr`` resized to ``side`` (and ``max_pixels``); images of more than ``FINE_TILE_PIXELS`` run as
        two overlapping halves along their longer side. Detections in ``bgr``'s pixels."""
        h, w = bgr.shape[:2]
        factor = min(1.0, side / max(h, w))
        if max_pixels is not None:
            factor = min(factor, (max_pixels / (h * w)) ** 0.5)
        img = (
            bgr
            if factor == 1.0
            else cv2.resize(bgr, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        )
        sx, sy = w / img.shape[1], h / img.shape[0]
        ih, iw = img.shape[:2]
        if ih * iw <= FINE_TILE_PIXELS:
            tiles = [(0, 0, img)]
        elif iw >= ih:
            cut = iw // 2
            tiles = [(0, 0, img[:, : cut + TILE_OVERLAP]), (cut - TILE_OVERLAP, 0, img[:, cut - TILE_OVERLAP :])]
        else:
            cut = ih // 2
            tiles = [(0, 0, img[: cut + TILE_OVERLAP]), (0, cut - TILE_OVERLAP, img[cut - TILE_OVERLAP :])]
        net = self._net()
        out = []
        for ox, oy, tile in tiles:
            tile = np.ascontiguousarray(tile)
            net.setInputSize((tile.shape[1], tile.shape[0]))
            _, faces = net.detect(tile)
            if faces is None:
                continue
            shift = np.array([ox, oy], dtype=np.float64)
            for row in np.asarray(faces, dtype=np.float64):
                box = np.concatenate([row[:2] + shift, row[2:4]]) * [sx, sy, sx, sy]
                landmarks = (row[4:14].reshape(5, 2) + shift) * [sx, sy]
                out.append(Detection(box, landmarks, float(row[14])))
        return out

    def detect(self, bgr: NDArray[Any], min_face: float) -> list[Detection]:
        """All faces at least ``min_face`` array pixels on their shorter box side, best score first."""
        found = self._pass(bgr, COARSE_SIDE)
        longest = max(bgr.shape[:2])
        if longest > 1.5 * COARSE_SIDE:
            limit = FINE_MAX_COARSE_PX * longest / COARSE_SIDE
            found += [d for d in self._pass(bgr, FINE_SIDE, FINE_MAX_PIXELS) if max(d.box[2], d.box[3]) < limit]
        found = [d for d in found if min(d.box[2], d.box[3]) >= min_face]
        if not found:
            return []
        boxes = [[float(v) for v in d.box] for d in found]
        keep = cv2.dnn.NMSBoxes(boxes, [d.score for d in found], 0.0, NMS_IOU)
        kept = [found[int(i)] for i in np.asarray(keep).reshape(-1)]
        return sorted(kept, key=lambda d: (-d.score, float(d.box[0]), float(d.box[1])))
