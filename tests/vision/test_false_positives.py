"""Animals and objects taken for faces (issue 11 item 8): the face check drops them and keeps every real face.

Photos without people: real animal and object photos from Debian's tuxpaint-stamps-default (``nofaces.py``), each as
shipped and at 0.5x and 2x. Photos with people: the real photos of ``photos.py``, grace_hopper.jpg, and the same with
the eyes or half the face covered, where the check is closest to dropping a real face.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ossfaces.vision import FaceAnalyzer

from .conftest import encode
from .nofaces import CONTROLS, SCALES, TRIGGERS, PhotoSourceUnavailable, fetch_stamps, grace_hopper, scaled_versions
from .photos import PHOTOS, fetch_photos

REMAINING = {
    ("animals/mammals/apes/chimp.png", "1x"): "a chimpanzee's face, YuNet 0.63: SFace's feature is long (7.8)",
    ("vehicles/wheel_tractor.png", "1x"): "a tractor wheel's hub, YuNet 0.66: SFace's feature 7.8",
    ("animals/mammals/deer/deer.png", "2x"): "a deer's head, YuNet 0.65: SFace's feature 7.9",
    ("hobbies/camera_35mm.png", "2x"): "a camera lens, YuNet 0.61: the second look sees it again (0.76)",
}
"""False faces the check leaves (limits, measured): each fails one of the two signals only."""


@pytest.fixture(scope="module")
def stamps() -> dict[str, Path]:
    try:
        return fetch_stamps()
    except PhotoSourceUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the no-face photos are required in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def unchecked(analyzer: FaceAnalyzer) -> Iterator[FaceAnalyzer]:
    """The session's analyzer with the face check off, restored afterwards."""
    analyzer.check_faces = False
    try:
        yield analyzer
    finally:
        analyzer.check_faces = True


CASES = [
    pytest.param(
        name,
        scale,
        marks=[pytest.mark.xfail(strict=True, reason=REMAINING[(name, scale)])] if (name, scale) in REMAINING else [],
    )
    for name in (*TRIGGERS, *CONTROLS)
    for scale in ("1x", *(f"{k:g}x" for k in SCALES))
]


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_no_face_is_reported_on_a_photo_of_an_animal_or_object(
    analyzer: FaceAnalyzer, stamps: dict[str, Path], name: str, scale: str
) -> None:
    faces = analyzer.analyze(scaled_versions(stamps[name])[scale]).faces
    assert [(f["FaceConfidence"], f["FaceAttributes"]["FaceBoundary"]) for f in faces] == []


def test_the_photos_without_people_do_tempt_the_detector(unchecked: FaceAnalyzer, stamps: dict[str, Path]) -> None:
    """The no-face test above can fail: without the check, every ``TRIGGERS`` photo as shipped yields a face."""
    for name in TRIGGERS:
        assert unchecked.analyze(stamps[name].read_bytes()).faces, name


def _with_people() -> dict[str, tuple[bytes, int]]:
    """name -> (photo, faces a person counts), with the eyes or the half face on the photo's right covered."""
    paths = fetch_photos()
    out = {p.name: (paths[p.name].read_bytes(), p.faces) for p in PHOTOS}
    out["grace_hopper.jpg"] = (grace_hopper(), 1)
    return out


def _rgb(data: bytes) -> Any:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _covered(rgb: Any, faces: list[dict[str, Any]], part: str) -> Any:
    img = np.array(rgb)
    for f in faces:
        lm = np.array([[p["X"], p["Y"]] for p in f["Landmarks"]])
        b = f["FaceAttributes"]["FaceBoundary"]
        w = b["Width"]
        if part == "eyes":  # a dark band, like sunglasses
            y = int(lm[:2, 1].mean())
            img[
                max(0, y - int(0.12 * w)) : y + int(0.12 * w),
                max(0, int(lm[0, 0] - 0.25 * w)) : int(lm[1, 0] + 0.25 * w),
            ] = 20
        else:  # the half on the photo's right, behind a grey card
            img[b["Top"] : b["Top"] + b["Height"], int(lm[2, 0]) : b["Left"] + b["Width"] + 5] = 90
    return img


def test_the_check_keeps_every_real_face(analyzer: FaceAnalyzer) -> None:
    """Every face of the real photos is found with the check (17 + 1 of 18 a person counts), and on the same photos
    with faces half covered, the check keeps every face that the detector finds without it."""
    found = expected = 0
    for name, (data, count) in _with_people().items():
        faces = analyzer.analyze(data).faces
        found += min(len(faces), count)
        expected += count
        rgb = _rgb(data)
        for part in ("eyes", "half"):
            covered = encode(_covered(rgb, faces, part), quality=92)
            analyzer.check_faces = False
            try:
                before = analyzer.analyze(covered).faces
            finally:
                analyzer.check_faces = True
            after = analyzer.analyze(covered).faces
            boxes = [f["FaceAttributes"]["FaceBoundary"] for f in after]
            lost = [
                f["FaceAttributes"]["FaceBoundary"] for f in before if f["FaceAttributes"]["FaceBoundary"] not in boxes
            ]
            assert lost == [], f"{name} {part}: the check dropped {lost}"
    assert (found, expected) == (18, 18)
