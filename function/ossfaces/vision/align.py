"""Face crops for each attribute model, aligned from YuNet's five landmarks.

- SFace: OpenCV's own ``FaceRecognizerSF.alignCrop`` (112x112, the alignment SFace was trained with).
- Age and gender: the dlib "face chip" the Cydral models were trained on (``get_face_chip_details`` with padding 0.2).
  dlib places five *eye-corner and nose-base* points; YuNet gives eye *centres*, so we map the two eye centres to the
  midpoints of dlib's corner targets with a similarity transform (rotation, scale, shift), which is what dlib's own
  alignment amounts to for a frontal face.
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

_DLIB_EYES = np.array([
    [(0.1205750620789 + 0.3340850613712) / 2, (0.2137274526848 + 0.2290642403242) / 2],  # eye on the image's left
    [(0.8595674595992 + 0.6460604764104) / 2, (0.2134981538014 + 0.2289674387104) / 2],  # eye on the image's right
])
"""Midpoints of dlib's 5-point chip targets for each eye's two corners (dlib ``get_face_chip_details``)."""
DLIB_PADDING = 0.2
EMOTION_MARGIN = 1.2
"""Emotion crop side / longest box side: fer adds 10 px to each side of ~100-200 px Haar boxes."""


def _similarity(src: NDArray[Any], dst: NDArray[Any]) -> NDArray[Any]:
    """The 2x3 similarity that maps two source points onto two destination points exactly."""
    s0, s1 = complex(*src[0]), complex(*src[1])
    d0, d1 = complex(*dst[0]), complex(*dst[1])
    if s1 == s0:
        s1 = s0 + 1
    a = (d1 - d0) / (s1 - s0)
    b = d0 - a * s0
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)


def _warp(img: NDArray[Any], matrix: NDArray[Any], size: int) -> NDArray[Any]:
    """Warp to ``size``; when shrinking by more than 2x, warp larger and area-average down to avoid aliasing."""
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    k = int(min(4, max(1, math.floor(1 / scale)))) if scale > 0 else 1
    big = matrix * k
    chip = cv2.warpAffine(img, big, (size * k, size * k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return chip if k == 1 else cv2.resize(chip, (size, size), interpolation=cv2.INTER_AREA)


def dlib_chip(bgr: NDArray[Any], det: Detection, size: int) -> NDArray[Any]:
    """The age/gender chip (BGR) of ``size`` px, as dlib's ``extract_image_chip`` would cut it."""
    dst = (DLIB_PADDING + _DLIB_EYES) / (2 * DLIB_PADDING + 1) * size
    return _warp(bgr, _similarity(det.landmarks[:2], dst), size)


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
