"""Face crops for each attribute model, aligned from YuNet's five landmarks.

- SFace: the 112x112 crop of OpenCV's ``FaceRecognizerSF.alignCrop`` (the alignment SFace was trained with): the
  least-squares similarity of the five points to ArcFace's template, warped bilinearly. Rebuilt here so that SFace can
  run as a plain network, batched over the faces of a photo; it matches ``alignCrop`` to within 1 grey level on
  0.1 % of pixels (float32 rounding).
- Age and gender: the dlib "face chip" the Cydral models were trained on (``get_face_chip_details`` with padding 0.2).
  dlib fits its own five points (eye corners, nose base) to its mean face by least-squares similarity; YuNet's points
  are different ones (eye centres, nose tip, mouth corners), so we fit those to where the same features sit on dlib's
  mean face. The chip scale matters a lot to these networks (10 % off can flip a borderline gender), which is why
  a two-point (eyes-only) fit is not used.
- Emotion: fer crops the detector's box squared with a small margin, in grey, at 64x64, unrotated. We do the same but
  level the eyes first, which matches FER2013's roughly aligned faces better.

Large faces are warped at a multiple of the chip size and then area-averaged down, so chips are not aliased.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.detect import Detection

_DLIB_TEMPLATE = np.array(
    [
        [0.225515, 0.216007],  # eye on the image's left: mean of points 36-41
        [0.754845, 0.216007],  # eye on the image's right: mean of points 42-47
        [0.490127, 0.515625],  # nose tip: point 30
        [0.254149, 0.780233],  # mouth corner, image's left: point 48
        [0.726104, 0.780233],  # mouth corner, image's right: point 54
    ]
)
"""Where YuNet's five points sit on dlib's mean face (``get_face_chip_details``'s 68-point template, unit square)."""
SFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)
"""Where the five points go in SFace's 112x112 input (OpenCV's ``face_recognize.cpp``, ArcFace's template)."""
SFACE_SIZE = 112
DLIB_PADDING = 0.2
EMOTION_MARGIN = 1.2
"""Emotion crop side / longest box side: fer adds 10 px to each side of ~100-200 px Haar boxes."""


def _similarity(src: NDArray[Any], dst: NDArray[Any]) -> NDArray[Any]:
    """The 2x3 least-squares similarity (rotation, uniform scale, shift) from ``src`` points to ``dst`` points,
    as dlib's ``find_similarity_transform`` computes it. Five points, five times per face: plain complex numbers
    cost a fifth of numpy's per-call overhead here."""
    s = [complex(x, y) for x, y in src.tolist()]
    d = [complex(x, y) for x, y in dst.tolist()]
    s_mean, d_mean = sum(s) / len(s), sum(d) / len(d)
    sc, dc = [p - s_mean for p in s], [q - d_mean for q in d]
    denom = sum(abs(p) ** 2 for p in sc)
    a = sum(q * p.conjugate() for p, q in zip(sc, dc, strict=True)) / denom if denom > 0 else complex(1.0)
    b = d_mean - a * s_mean
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)


def _warp(img: NDArray[Any], matrix: NDArray[Any], size: int) -> NDArray[Any]:
    """Warp to ``size``; when shrinking by more than 2x, warp larger and area-average down to avoid aliasing."""
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    k = int(min(4, max(1, math.floor(1 / scale)))) if scale > 0 else 1
    big = matrix * k
    chip = cv2.warpAffine(img, big, (size * k, size * k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return chip if k == 1 else cv2.resize(chip, (size, size), interpolation=cv2.INTER_AREA)


def dlib_chip(bgr: NDArray[Any], det: Detection, size: int, zoom: float = 1.0) -> NDArray[Any]:
    """The age/gender chip (BGR) of ``size`` px, as dlib's ``extract_image_chip`` would cut it; ``zoom`` jitters it."""
    dst = ((DLIB_PADDING + _DLIB_TEMPLATE) / (2 * DLIB_PADDING + 1) - 0.5) * zoom * size + size / 2
    return _warp(bgr, _similarity(det.landmarks, dst), size)


def sface_crop(bgr: NDArray[Any], det: Detection) -> NDArray[Any]:
    """The 112x112 BGR crop SFace expects, as ``FaceRecognizerSF.alignCrop`` cuts it (plain bilinear warp)."""
    matrix = _similarity(det.landmarks.astype(np.float32).astype(np.float64), SFACE_TEMPLATE)
    return cv2.warpAffine(bgr, matrix, (SFACE_SIZE, SFACE_SIZE), flags=cv2.INTER_LINEAR)


def eye_roll(det: Detection) -> float:
    """Angle of the eye line in degrees, positive when the head is tilted clockwise in the image."""
    (x0, y0), (x1, y1) = det.landmarks[0], det.landmarks[1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def emotion_crop(gray: NDArray[Any], det: Detection, size: int = 64) -> NDArray[Any]:
    """Square grey crop around the box, eyes levelled, ``EMOTION_MARGIN`` times the box's longest side."""
    x, y, w, h = det.box
    cx, cy = x + w / 2, y + h / 2
    side = max(w, h) * EMOTION_MARGIN
    angle = math.radians(eye_roll(det))
    scale = size / side
    # Rotate by -roll about the box centre, scale, and move the centre to the middle of the crop.
    a = complex(math.cos(-angle), math.sin(-angle)) * scale
    b = complex(size / 2, size / 2) - a * complex(cx, cy)
    matrix = np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)
    return _warp(gray, matrix, size)
