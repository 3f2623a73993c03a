"""The calibration on the engine's real output path: real pinned photos (``photos.py``) through ``FaceAnalyzer.analyze``.

The pinned photos hold no young child. So the minimum-age rule is checked twice: with the shipped calibration over
every face (no face under the minimum age carries a gender, a written gender clears its band's threshold, most adults
keep theirs), and with the minimum age raised to 26, which splits these photos' faces into both sides of the rule.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.calibration import Calibration, load_calibration
from ossfaces_tools.calibration.engine import engine_version

from .photos import fetch_photos

RAISED_MIN_AGE = 26


@pytest.fixture(scope="module")
def photo_paths() -> dict[str, Path]:
    return fetch_photos()


def all_faces(analyzer: FaceAnalyzer, paths: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, face) for name, path in paths.items() for face in analyzer.analyze(path.read_bytes()).faces]


def test_shipped_calibration_writes_agesd_and_a_gender_only_where_its_rule_allows(
    analyzer: FaceAnalyzer, photo_paths: dict[str, Path]
) -> None:
    cal = analyzer.calibration
    assert cal.digest == load_calibration().digest
    assert analyzer.version.endswith(f"+calib.{cal.digest}")
    faces = all_faces(analyzer, photo_paths)
    assert all(0 < face["AgeSD"] < 40 for _, face in faces)
    assert not [n for n, face in faces if face["Age"] < cal.gender.min_age and "Gender" in face]
    written = [face for _, face in faces if "Gender" in face]
    for face in written:
        threshold = cal.gender.threshold(face["Age"])
        assert threshold is not None and face["GenderConfidence"] >= threshold
    adults = [face for _, face in faces if face["Age"] >= 20]
    assert len(adults) >= 10 and len([f for f in adults if "Gender" in f]) >= 0.6 * len(adults)
    (tom,) = [face for n, face in faces if n == "Tom_Hanks_54745.png"]
    assert tom["Gender"] == "MALE"


def test_faces_under_the_minimum_age_never_carry_gender_on_the_engine_path(photo_paths: dict[str, Path]) -> None:
    doc = copy.deepcopy(dict(load_calibration().document))
    doc["gender"]["min_age"] = RAISED_MIN_AGE
    doc["gender"]["bands"] = [{"from_age": RAISED_MIN_AGE, "min_confidence": 0.5}]
    raised = FaceAnalyzer.load(threads=2, calibration=Calibration.from_document(doc))
    assert raised.version != FaceAnalyzer.load(threads=1).version  # another calibration, another engine version
    faces = all_faces(raised, photo_paths)
    under = [face for _, face in faces if face["Age"] < RAISED_MIN_AGE]
    over = [face for _, face in faces if face["Age"] >= RAISED_MIN_AGE]
    assert len(under) >= 5 and len(over) >= 5, (
        "the photos must fall on both sides of the rule for this test to mean anything"
    )
    assert not [f for f in under if "Gender" in f or "GenderConfidence" in f]
    assert all(f["Gender"] in ("FEMALE", "MALE") for f in over)


def test_the_shipped_figures_were_measured_on_this_engine(analyzer: FaceAnalyzer) -> None:
    """A new engine revision or model set moves the networks' raw outputs: the shipped fit and its holdout figures
    must then be redone on the new engine (docs/calibration.md, "Rerun the fit and the figures")."""
    validation = analyzer.calibration.validation
    assert validation is not None
    measured_on = str(validation["engine"]).split("-src.")[0]
    assert measured_on == engine_version(analyzer.version), (
        f"calibration.json was fitted and validated on engine {measured_on}, this engine is"
        f" {engine_version(analyzer.version)}: rerun `python -m ossfaces_tools.calibrate fit --data ../shared/data/"
        "licensed-faces` (docs/calibration.md)"
    )
