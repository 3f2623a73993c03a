"""The figures (``ossfaces_tools.calibration.evaluate``) counted by hand, the labels and the licence gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ossfaces.vision.calibration import Calibration, GenderRule
from ossfaces_tools.calibration.engine import RawFace, Record
from ossfaces_tools.calibration.evaluate import covered_share, error_to_interval, evaluate
from ossfaces_tools.calibration.labels import LabelledFace, licence_allowed, parse_age_bin, read_manifest
from ossfaces_tools.calibration.render import render

from .calibration_support import age_probs, emotions, write_manifest


@pytest.mark.parametrize(
    "licence", ["CC0-1.0", "CC0", "CC-BY-4.0", "CC BY 4.0", "cc-by-sa-4.0", "PDM-1.0", "public-domain", "MIT"]
)
def test_allowed_licences(licence: str) -> None:
    assert licence_allowed(licence)


@pytest.mark.parametrize(
    "licence",
    ["research-only", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "", "unknown", "GPL-3.0", "ODbL-1.0"],
)
def test_refused_licences(licence: str) -> None:
    assert not licence_allowed(licence)


def test_manifest_csv_and_jsonl_read_the_same(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {
            "path": "x/a.jpg",
            "age_bin": "more than 70",
            "gender": "Female",
            "group": "Black",
            "licence": "CC-BY-4.0",
            "split": "holdout",
            "match": "centre",
        },
        {
            "path": "b.png",
            "age": "8",
            "gender": "m",
            "emotion": "smiling",
            "licence": "CC0-1.0",
            "split": "fit",
            "x": "10",
            "y": "20",
            "person": "p1",
        },
        {"path": "c.png", "age_upper": "71", "gender": "m", "licence": "CC0-1.0", "split": "fit"},
    ]
    csv_faces = read_manifest(write_manifest(tmp_path / "m.csv", rows))
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_manifest(tmp_path / "m.jsonl") == csv_faces
    a, b, c = csv_faces
    assert a.age_bin == (70, None) and a.centre and a.age_range == (69.5, 84.5) and a.age_target == 77.0
    assert a.age_likelihood_range == (69.5, 100.0) and a.path == tmp_path / "x/a.jpg"
    assert b.age == 8 and b.emotion == "HAPPY" and b.point == (10.0, 20.0) and b.person_key == "p1"
    assert b.age_range == (7.5, 8.5) and c.age_upper == 71 and c.age_range is None
    assert parse_age_bin("20-29") == (20, 29) and parse_age_bin("70+") == (70, None)


def test_a_bad_row_names_its_file_and_row(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [{"path": "a.jpg", "gender": "x", "licence": "CC0"}])
    with pytest.raises(ValueError, match=r"m\.csv, row 1: gender"):
        read_manifest(manifest)


def test_error_to_the_bin_and_the_covered_share() -> None:
    assert error_to_interval(25, 20, 30) == 0 and error_to_interval(17, 20, 30) == -3
    assert error_to_interval(33, 20, 30) == 4 and error_to_interval(90, 70, float("inf")) == 0
    assert covered_share(30, 10 / 1.645, 29.5, 30.5) == 1.0
    assert covered_share(30, 1 / 1.645, 39.5, 40.5) == 0.0
    assert covered_share(25, 5 / 1.645, 19.5, 29.5) == pytest.approx(0.95)  # 20-30 covers 20-29.5 of 19.5-29.5
    assert covered_share(20, 5 / 1.645, 19.5, 29.5) == pytest.approx(0.55)  # 15-25 covers 19.5-25 of 19.5-29.5


def face(split: str = "holdout", **kw: Any) -> LabelledFace:
    return LabelledFace(Path("p.jpg"), "CC0-1.0", split, kw.pop("dataset", "s"), **kw)


def rec(label: LabelledFace, raw_age: float, gender: str = "MALE", conf: float = 0.9, happy: float = 0.1) -> Record:
    return Record(label, RawFace(age_probs(raw_age, 0.3), gender, conf, emotions(happy), None), 1)


def test_every_figure_counted_by_hand() -> None:
    rows = [
        rec(face(age_bin=(20, 29), gender="FEMALE", group="A", dataset="ff"), 25, "FEMALE"),  # right bin
        rec(face(age_bin=(20, 29), gender="MALE", group="B", dataset="ff"), 33, "FEMALE"),  # +4 to the bin, wrong
        rec(face(age_bin=(70, None), gender="MALE", group="B", dataset="ff"), 60),  # -10 to the bin
        rec(face(age=30, gender="FEMALE", emotion="HAPPY", dataset="lo"), 34, "FEMALE", happy=0.9),  # +4
        rec(face(age=40, gender="MALE", emotion="CALM", dataset="lo"), 38, happy=0.1),  # -2
        rec(face(age_upper=65, gender="MALE", dataset="co"), 58),  # 60s: -7
        rec(face(age=10, gender="MALE", dataset="lo"), 10, conf=0.99),  # under 13: no gender
        Record(face(age=50), None, 0),
    ]
    cal = Calibration(gender=GenderRule(13, ((13, 0.5),)))
    rep = evaluate(rows, cal)
    assert rep["faces"]["labelled"] == 8 and rep["faces"]["matched"] == 7 and rep["faces"]["no_face_found"] == 1
    b = rep["age_binned"]
    assert b["right_bin"] == pytest.approx(1 / 3)
    assert b["bins"]["20-29"]["signed_error_to_bin"] == pytest.approx(2.0)
    assert b["bins"]["20-29"]["signed_error_to_middle"] == pytest.approx((0.5 + 8.5) / 2)
    assert b["bins"]["70+"]["signed_error_to_bin"] == pytest.approx(-10.0)
    x = rep["age_exact"]
    assert x["n"] == 3 and x["mae"] == pytest.approx(2.0) and x["bands"]["20-39"]["mean_signed_error"] == 4.0
    assert rep["age_upper"]["decades"]["60s"] == {"n": 1, "mean_error_to_upper_bound": -7.0}
    g = rep["gender"]
    assert (g["n"], g["written"]) == (7, 6) and g["accuracy_where_written"] == pytest.approx(5 / 6)
    assert g["estimated_13_plus"]["n"] == 6 and g["sets"]["ff"]["accuracy_where_written"] == pytest.approx(2 / 3)
    assert g["groups"]["ff: B"]["accuracy_where_written"] == 0.5 and g["group_gap_points"] == {"ff": 50.0}
    e = rep["emotion"]
    assert e["happy_share"] == {"CALM": 0.0, "HAPPY": 1.0}
    text = render([("before", rep), ("after", rep)], "by hand")
    assert (
        "faces: 8 labelled, 7 matched, 1 without a detected face" in text and "columns: [1] before, [2] after" in text
    )
    assert "right bin overall: 33.3% | 33.3%" in text


def test_the_cache_key_names_the_engine_build_not_its_calibration() -> None:
    from ossfaces_tools.calibration.engine import engine_key

    a = engine_key("0.1.0+engine.3.models.abc+calib.111111111111")
    assert a == engine_key("0.1.0+engine.3.models.abc+calib.222222222222")  # a refit reuses the raw outputs
    assert a != engine_key("0.1.0+engine.4.models.abc+calib.111111111111")  # a new engine revision reruns
    assert "calib" not in a and a.startswith("0.1.0+engine.3.models.abc-src.")
