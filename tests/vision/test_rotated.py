"""Faces turned in the photo's plane by about 45 degrees (issue 11 item 8): found by the rotated passes that run when
the upright ones find nothing, and reported where they are in the photo as given."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ossfaces.vision import FaceAnalyzer

from .conftest import encode
from .photos import fetch_photos, load_rgb

PORTRAITS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "single_face.jpg")


def turned(rgb: NDArray[Any], angle: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """The photo turned counter-clockwise by ``angle`` degrees on a grown grey canvas, and the 2x3 matrix used."""
    h, w = rgb.shape[:2]
    matrix = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), dtype=np.float64)
    c, s = abs(matrix[0, 0]), abs(matrix[0, 1])
    cw, ch = int(w * c + h * s), int(w * s + h * c)
    matrix[:, 2] += (cw / 2 - w / 2, ch / 2 - h / 2)
    return cv2.warpAffine(rgb, matrix, (cw, ch), borderValue=(128, 128, 128)), matrix


def centre(face: dict[str, Any]) -> NDArray[Any]:
    b = face["FaceAttributes"]["FaceBoundary"]
    return np.array([b["Left"] + b["Width"] / 2, b["Top"] + b["Height"] / 2])


@pytest.fixture(scope="module")
def portraits(astronaut: NDArray[Any]) -> dict[str, NDArray[Any]]:
    paths: dict[str, Path] = fetch_photos()
    return {"astronaut": astronaut} | {name: load_rgb(paths[name]) for name in PORTRAITS}


ASTRONAUT_XFAIL = pytest.mark.xfail(
    strict=True,
    reason="limit: the upright pass finds the astronaut turned by 40-50 degrees (score 0.87-0.89) but with its landmarks"
    " along the wrong axis (eye line within 4 degrees of level), so neither the levelled second look nor the rotated"
    " passes run, and the crops made from those landmarks are tilted; no cheap landmark check told these apart",
)
CASES = [
    pytest.param(name, angle, marks=[ASTRONAUT_XFAIL] if name == "astronaut" else [])
    for name in ("astronaut", *PORTRAITS)
    for angle in (45.0, -45.0, 40.0, -50.0)
]


@pytest.mark.parametrize(("name", "angle"), CASES)
def test_a_portrait_turned_45_degrees_is_found_where_it_is(
    analyzer: FaceAnalyzer, portraits: dict[str, NDArray[Any]], name: str, angle: float
) -> None:
    rgb = portraits[name]
    (upright,) = analyzer.analyze(encode(rgb, quality=92)).faces
    image, matrix = turned(rgb, angle)
    (face,) = analyzer.analyze(encode(image, quality=92)).faces
    expected = matrix[:, :2] @ centre(upright) + matrix[:, 2]
    width = upright["FaceAttributes"]["FaceBoundary"]["Width"]
    assert float(np.linalg.norm(centre(face) - expected)) <= 0.2 * width
    roll = face["FaceAttributes"]["HeadPose"]["Roll"]
    assert abs(abs(roll) - abs(angle)) <= 15 and math.copysign(1, roll) == -math.copysign(1, angle), roll
    assert face.get("Gender") in (None, upright.get("Gender"))  # the same, or withheld (calibrated abstention)
