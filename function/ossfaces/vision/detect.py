"""Face detection with YuNet (:mod:`~ossfaces.vision.yunet`): boxes, five landmarks and a score, at two scales.

One pass at 640 px finds the faces that fill a photo. For large photos a second pass at up to 1920 px finds the small
faces of a group photo that the first pass loses to downscaling (YuNet's smallest reliable face is about 10-12 px at
its input). Both passes go through non-maximum suppression together, so a face seen twice is kept once, with the
higher-scoring detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.yunet import YuNet, nms

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
ROTATED_ANGLES = (45.0, -45.0)
"""In-plane turns tried when the upright passes find no face and the caller asks for it (``FaceAnalyzer.rotations``,
off by default: measured +60-78 % time on photos without people for 1 more turned portrait in 50)."""
LEVEL_ROLL = 12.0
"""Faces whose eye line is tilted more than this are looked at again, levelled (``Detector._levelled``)."""
LEVEL_LOOKS = 2
"""At most this many levelled looks per face: the first brings a 50-degree face within YuNet's range, the second
settles its landmarks."""
LEVEL_SIDE = 224
LEVEL_CONTEXT = 2.0
"""The levelled second look: a square of this many times the box's longest side around the face, at 224 px."""
ROTATED_SIDE = 320
"""Longest side of the photo for the rotated passes: they look for large faces only (a turned portrait), and at this
size they cost a fraction of the upright pass (benchmarks/eval_engine.py --rotation measures the time on photos without
faces)."""
CHECK_SIDE = 224
CHECK_CONTEXT = 2.0
CHECK_SCORE = 0.7
"""The second look that tells faces from animals and round things (``Detector.second_look``): the face levelled, with
this many times its longest side of context on a grey card, at 224 px; it confirms the face when YuNet sees one within
half a box of the centre with at least this score. Real faces scored 0.80-0.94 there; animal and object photos that
YuNet took for a face (0.6-0.8) mostly 0.0 (``benchmarks/eval_engine.py --false-positives``)."""
CHECK_BORDER = 128
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


def _roll(det: Detection) -> float:
    (x0, y0), (x1, y1) = det.landmarks[0], det.landmarks[1]
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


class Detector:
    """The passes, looks and merges around YuNet; safe to call from many threads."""

    def __init__(self, yunet: YuNet) -> None:
        self.yunet = yunet

    def _pass(self, bgr: NDArray[Any], img: NDArray[Any]) -> list[Detection]:
        """YuNet on ``img``, a reduced copy of ``bgr`` (:func:`_reduced`); images of more than ``FINE_TILE_PIXELS``
        run as two overlapping halves along their longer side. Detections in ``bgr``'s pixels."""
        h, w = bgr.shape[:2]
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
        out = []
        for ox, oy, tile in tiles:
            faces = self.yunet.detect(tile)
            shift = np.array([ox, oy], dtype=np.float64)
            for row in np.asarray(faces, dtype=np.float64):
                box = np.concatenate([row[:2] + shift, row[2:4]]) * [sx, sy, sx, sy]
                landmarks = (row[4:14].reshape(5, 2) + shift) * [sx, sy]
                out.append(Detection(box, landmarks, float(row[14])))
        return out

    def _look(
        self, bgr: NDArray[Any], matrix: NDArray[Any], size: tuple[int, int], border: int | None = None
    ) -> list[Detection]:
        """YuNet on ``bgr`` warped by the 2x3 ``matrix`` into ``size`` (outside the photo: its edge repeated, or the
        grey ``border``); detections mapped back to ``bgr``'s pixels: landmarks exactly, the box as the same-sized box
        (divided by the warp's scale) around the mapped centre."""
        if border is None:
            warped = cv2.warpAffine(bgr, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        else:
            warped = cv2.warpAffine(
                bgr, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT, borderValue=(border,) * 3
            )
        faces = self.yunet.detect(warped)
        back = cv2.invertAffineTransform(matrix)
        scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
        out = []
        for row in np.asarray(faces, dtype=np.float64):
            landmarks = row[4:14].reshape(5, 2) @ back[:, :2].T + back[:, 2]
            centre = np.array([row[0] + row[2] / 2, row[1] + row[3] / 2]) @ back[:, :2].T + back[:, 2]
            bw, bh = row[2] / scale, row[3] / scale
            box = np.array([centre[0] - bw / 2, centre[1] - bh / 2, bw, bh])
            out.append(Detection(box, landmarks, float(row[14])))
        return out

    def _rotated(self, bgr: NDArray[Any], angle: float) -> list[Detection]:
        """The whole photo turned by ``angle`` degrees (counter-clockwise, canvas grown to keep every corner), at
        ``ROTATED_SIDE``."""
        h, w = bgr.shape[:2]
        k = min(1.0, ROTATED_SIDE / max(h, w))
        matrix = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, k), dtype=np.float64)
        c, s = abs(matrix[0, 0]), abs(matrix[0, 1])
        cw, ch = int(w * c + h * s + 0.5), int(w * s + h * c + 0.5)
        matrix[:, 2] += (cw / 2 - w / 2, ch / 2 - h / 2)
        return self._look(bgr, matrix, (cw, ch))

    def _levelled(self, bgr: NDArray[Any], det: Detection) -> Detection:
        """A tilted face seen again with its eyes levelled: YuNet's landmarks are good to about 20 degrees of roll
        and off by up to 40 beyond (a face turned 45 degrees read as 4-32), which would spoil every crop made from
        them. Returns the new detection nearest the face's centre, or ``det`` when the second look finds none."""
        roll = _roll(det)
        cx, cy = det.box[0] + det.box[2] / 2, det.box[1] + det.box[3] / 2
        k = LEVEL_SIDE / (LEVEL_CONTEXT * max(det.box[2], det.box[3]))
        matrix = np.asarray(cv2.getRotationMatrix2D((float(cx), float(cy)), roll, k), dtype=np.float64)
        matrix[:, 2] += (LEVEL_SIDE / 2 - cx, LEVEL_SIDE / 2 - cy)
        seen = self._look(bgr, matrix, (LEVEL_SIDE, LEVEL_SIDE))
        if not seen:
            return det
        return min(seen, key=lambda d: float(np.hypot(d.box[0] + d.box[2] / 2 - cx, d.box[1] + d.box[3] / 2 - cy)))

    def second_look(self, bgr: NDArray[Any], det: Detection) -> float:
        """YuNet's best score for a face within half a box of ``det``'s centre, seen again levelled with
        ``CHECK_CONTEXT`` of context at ``CHECK_SIDE`` px on a grey card (0.0 when it sees none there). A real face
        keeps its score across this change of framing and scale; the fur, lens or hub pattern that YuNet took for a
        face at one framing mostly does not."""
        cx, cy = det.box[0] + det.box[2] / 2, det.box[1] + det.box[3] / 2
        big = float(max(det.box[2], det.box[3]))
        k = CHECK_SIDE / (CHECK_CONTEXT * big)
        matrix = np.asarray(cv2.getRotationMatrix2D((float(cx), float(cy)), _roll(det), k), dtype=np.float64)
        matrix[:, 2] += (CHECK_SIDE / 2 - cx, CHECK_SIDE / 2 - cy)
        seen = self._look(bgr, matrix, (CHECK_SIDE, CHECK_SIDE), CHECK_BORDER)
        near = [d.score for d in seen if np.hypot(d.box[0] + d.box[2] / 2 - cx, d.box[1] + d.box[3] / 2 - cy) < big / 2]
        return max(near, default=0.0)

    def detect(self, bgr: NDArray[Any], min_face: float, *, rotations: bool = True) -> list[Detection]:
        """All faces at least ``min_face`` array pixels on their shorter box side, best score first. When the
        upright passes find none (and ``rotations``), the photo is tried turned by ``ROTATED_ANGLES``."""
        found = self._upright(bgr, min_face)
        if not found and rotations:
            found = [d for angle in ROTATED_ANGLES for d in self._rotated(bgr, angle)]
            found = [d for d in found if min(d.box[2], d.box[3]) >= min_face]
        for _ in range(LEVEL_LOOKS):
            found = [self._levelled(bgr, d) if abs(_roll(d)) > LEVEL_ROLL else d for d in found]
        if not found:
            return []
        keep = nms(np.array([d.box for d in found], np.float64), np.array([d.score for d in found]), NMS_IOU)
        kept = [found[int(i)] for i in keep]
        return sorted(kept, key=lambda d: (-d.score, float(d.box[0]), float(d.box[1])))

    def _upright(self, bgr: NDArray[Any], min_face: float) -> list[Detection]:
        longest = max(bgr.shape[:2])
        # Both images are reduced from ``bgr``. Reducing the coarse one from the fine one would save about 11 ms on a
        # 24 MP photo but moves landmarks by a fraction of a pixel, which changes Age and AgeSD on large photos
        # (scripts/compare_engines.py): not worth making every stored result stale.
        found = self._pass(bgr, _reduced(bgr, COARSE_SIDE))
        if longest > 1.5 * COARSE_SIDE:
            limit = FINE_MAX_COARSE_PX * longest / COARSE_SIDE
            fine = _reduced(bgr, FINE_SIDE, FINE_MAX_PIXELS)
            found += [d for d in self._pass(bgr, fine) if max(d.box[2], d.box[3]) < limit]
        return [d for d in found if min(d.box[2], d.box[3]) >= min_face]


def _reduced(bgr: NDArray[Any], side: int, max_pixels: int | None = None) -> NDArray[Any]:
    """``bgr`` area-averaged down to at most ``side`` on its longest side (and ``max_pixels``); never enlarged."""
    h, w = bgr.shape[:2]
    factor = min(1.0, side / max(h, w))
    if max_pixels is not None:
        factor = min(factor, (max_pixels / (h * w)) ** 0.5)
    if factor == 1.0:
        return bgr
    return cv2.resize(bgr, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
