"""The calibration layer (``ossfaces.vision.calibration``): the age map, AgeSD, gender abstention, emotion, digest.

Pure tests on hand-made network outputs: no model files needed. The real-photo checks are in ``test_calibration_photos``.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest

from ossfaces.errors import ConfigError
from ossfaces.vision.attributes import AGE_WEIGHTS, IMM_EMOTIONS
from ossfaces.vision.calibration import (
    CALIBRATION_FILE,
    AgeMap,
    Calibration,
    EmotionCalibration,
    GenderRule,
    identity_document,
    load_calibration,
    parameters_digest,
)

EMOTIONS = dict(zip(IMM_EMOTIONS, (0.05, 0.40, 0.02, 0.30, 0.13, 0.04, 0.06), strict=True))


def one_hot_age(age: int) -> np.ndarray[Any, Any]:
    p = np.zeros(81, np.float32)
    p[age] = 1.0
    return p


def spread_age(centre: int, half_width: int) -> np.ndarray[Any, Any]:
    p = np.zeros(81, np.float32)
    p[centre - half_width : centre + half_width + 1] = 1.0
    normalised: np.ndarray[Any, Any] = p / p.sum()
    return normalised


def test_the_shipped_file_says_where_every_number_came_from_and_how_it_held_out() -> None:
    doc = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    cal = load_calibration()
    sets = {d["name"] for d in doc["data"]}
    assert sets and all(d["licence"] and d["attribution"] for d in doc["data"])
    for block in ("age", "gender", "emotion"):
        fitted_on = doc[block]["fitted_on"]
        assert fitted_on["split"] == "fit" and set(fitted_on["data"]) <= sets and fitted_on["faces"] > 0
    assert not cal.age.is_identity and cal.age_sd is not None
    val = cal.validation
    assert val is not None and val["split"] == "holdout" and val["calibration_digest"] == cal.digest
    assert "held-out faces" in val["population"] and val["figures"]["age_sd"]["n"] > 0
    assert cal.gender.min_age == 13 and "Product decision" in doc["gender"]["min_age_source"]


def test_age_spread_model_scales_with_the_networks_spread_and_the_age() -> None:
    doc = identity_document()
    doc["age"]["sd_model"] = {"log_scale": 1.0, "spread_power": 0.5, "per_50_years": 0.3}
    cal = Calibration.from_document(doc)
    narrow, wide = (
        cal.face_fields(spread_age(30, 1), "MALE", 0.9, EMOTIONS),
        cal.face_fields(spread_age(30, 10), "MALE", 0.9, EMOTIONS),
    )
    assert narrow["Age"] == wide["Age"] == 30
    raw_narrow = Calibration.identity().face_fields(spread_age(30, 1), "MALE", 0.9, EMOTIONS)["AgeSD"]
    assert narrow["AgeSD"] == pytest.approx(math.exp(1.0 + 0.5 * math.log(raw_narrow + 0.5) + 0.3 * 30 / 50), abs=0.02)
    assert wide["AgeSD"] > narrow["AgeSD"]
    old = cal.face_fields(spread_age(70, 1), "MALE", 0.9, EMOTIONS)
    assert old["AgeSD"] > narrow["AgeSD"]  # the same network spread reads wider at 70


def test_gender_head_reads_the_net_and_the_embedding_and_falls_back_without_one() -> None:
    doc = identity_document()
    emb = [0.0] * 128
    emb[0] = 20.0
    doc["gender"]["head"] = {
        "bias": 0.0,
        "net_logit": 1.0,
        "embedding": emb,
        "fallback": {"bias": 0.0, "net_logit": 1.0},
    }
    cal = Calibration.from_document(doc)
    vector = np.zeros(128, np.float32)
    vector[0] = -1.0  # the embedding says female strongly
    with_emb = cal.face_fields(one_hot_age(40), "MALE", 0.8, EMOTIONS, vector)
    without = cal.face_fields(one_hot_age(40), "MALE", 0.8, EMOTIONS, None)
    assert with_emb["Gender"] == "FEMALE" and with_emb["GenderConfidence"] > 0.99
    assert without["Gender"] == "MALE" and without["GenderConfidence"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="128-d"):
        cal.face_fields(one_hot_age(40), "MALE", 0.8, EMOTIONS, np.zeros(64))


def test_age_map_interpolates_between_knots_and_clamps_outside() -> None:
    m = AgeMap.from_knots([[0, 2], [20, 16], [60, 70], [80, 90]])
    assert m(10) == pytest.approx(9.0)
    assert m(40) == pytest.approx(43.0)
    assert m(-5) == pytest.approx(2.0) and m(200) == pytest.approx(90.0)
    xs = np.linspace(-10, 110, 500)
    assert np.all(np.diff(m(xs)) >= 0)


@pytest.mark.parametrize(
    "knots",
    [
        [[0, 0]],  # one knot
        [[0, 0], [0, 5]],  # x not strictly increasing
        [[0, 10], [50, 5]],  # decreasing: not monotone
        [[0, 0], [50, float("nan")]],
    ],
)
def test_age_map_refuses_what_is_not_a_monotone_map(knots: list[list[float]]) -> None:
    with pytest.raises(ValueError):
        AgeMap.from_knots(knots)


def test_identity_keeps_the_engines_raw_age_and_the_rounding_half_up() -> None:
    cal = Calibration.identity()
    p = np.zeros(81, np.float32)
    p[30], p[31] = 0.5, 0.5  # expectation 30.5
    assert cal.face_fields(p, "MALE", 0.9, EMOTIONS)["Age"] == 31
    assert cal.face_fields(one_hot_age(0), "MALE", 0.9, EMOTIONS)["Age"] == 0  # class 0 weighs 0.25


def test_age_sd_is_the_spread_of_the_distribution_after_the_map() -> None:
    cal = Calibration.identity()
    assert cal.face_fields(one_hot_age(40), "MALE", 0.9, EMOTIONS)["AgeSD"] == 0.0
    p = spread_age(40, 5)  # uniform over 35..45: sd = sqrt((11^2 - 1) / 12)
    assert cal.face_fields(p, "MALE", 0.9, EMOTIONS)["AgeSD"] == pytest.approx(math.sqrt(120 / 12), abs=0.01)
    doubled = Calibration(age=AgeMap.from_knots([[0, 0], [100, 200]]))
    fields = doubled.face_fields(p, "MALE", 0.9, EMOTIONS)
    assert fields["Age"] == 80 and fields["AgeSD"] == pytest.approx(2 * math.sqrt(10), abs=0.01)
    assert float(np.sum(p * AGE_WEIGHTS)) == pytest.approx(40.0)


def test_gender_is_left_out_under_the_minimum_age_and_written_from_it() -> None:
    cal = Calibration(gender=GenderRule(13, ((13, 0.5),)))
    child = cal.face_fields(one_hot_age(12), "FEMALE", 0.99, EMOTIONS)
    assert "Gender" not in child and "GenderConfidence" not in child
    teen = cal.face_fields(one_hot_age(13), "FEMALE", 0.99, EMOTIONS)
    assert teen["Gender"] == "FEMALE" and teen["GenderConfidence"] == 0.99


def test_the_age_rule_uses_the_calibrated_age_not_the_raw_one() -> None:
    young = Calibration(age=AgeMap.from_knots([[0, 0], [20, 10], [100, 100]]), gender=GenderRule(13, ((13, 0.5),)))
    assert "Gender" not in young.face_fields(one_hot_age(20), "MALE", 0.99, EMOTIONS)  # raw 20 -> 10


def test_gender_band_thresholds_and_a_band_that_never_writes() -> None:
    rule = GenderRule(13, ((13, None), (20, 0.8), (60, 0.9)))
    assert not rule.writes(15, 1.0)  # a null band abstains whatever the confidence
    assert rule.writes(30, 0.8) and not rule.writes(30, 0.79)
    assert rule.writes(70, 0.95) and not rule.writes(70, 0.85)
    assert rule.threshold(5) is None


def test_gender_rule_refuses_unsorted_bands_and_confidences_out_of_range() -> None:
    with pytest.raises(ValueError):
        GenderRule(13, ((20, 0.8), (13, 0.5)))
    with pytest.raises(ValueError):
        GenderRule(13, ((13, 1.5),))


@pytest.mark.parametrize(
    "emotion",
    [
        EmotionCalibration(),
        EmotionCalibration(2.0),
        EmotionCalibration(0.5, (0.3, -0.2, 1.0, -1.0, 0.5, 0.9, 0.0)),
    ],
)
def test_emotion_details_sum_to_one_and_emotion_is_their_largest(emotion: EmotionCalibration) -> None:
    fields = Calibration(emotion=emotion).face_fields(one_hot_age(30), "MALE", 0.9, EMOTIONS)
    details = fields["EmotionDetails"]
    assert set(details) == set(IMM_EMOTIONS)
    assert sum(details.values()) == pytest.approx(1.0, abs=1e-5)
    assert details[fields["Emotion"]] == max(details.values())
    assert fields["EmotionConfidence"] == pytest.approx(details[fields["Emotion"]], abs=1e-4)


def test_emotion_identity_keeps_the_ranking_and_temperature_keeps_it_too() -> None:
    raw = np.array([EMOTIONS[k] for k in IMM_EMOTIONS])
    for t in (0.5, 1.0, 3.0):
        out = EmotionCalibration(t).probabilities(raw)
        assert list(np.argsort(out)) == list(np.argsort(raw))
    hot = EmotionCalibration(100.0).probabilities(raw)
    assert np.allclose(hot, 1 / 7, atol=0.01)  # a high temperature flattens
    assert np.allclose(EmotionCalibration().probabilities(raw), raw / raw.sum())


def test_priors_can_move_the_winner() -> None:
    priors = tuple(2.0 if k == "SAD" else 0.0 for k in IMM_EMOTIONS)
    fields = Calibration(emotion=EmotionCalibration(1.0, priors)).face_fields(one_hot_age(30), "MALE", 0.9, EMOTIONS)
    assert fields["Emotion"] == "SAD"


def test_digest_follows_the_parameters_and_ignores_the_validation_block() -> None:
    doc = identity_document()
    base = parameters_digest(doc)
    described = copy.deepcopy(doc)
    described["validation"] = {"dataset": "x"}
    described["note"] = "words"
    assert parameters_digest(described) == base
    for block, field, value in (
        ("age", "knots", [[0, 1], [100, 100]]),
        ("gender", "min_age", 13),
        ("emotion", "temperature", 1.5),
    ):
        changed = copy.deepcopy(doc)
        changed[block][field] = value
        assert parameters_digest(changed) != base


def test_an_invalid_file_is_a_config_error_naming_it(tmp_path: Any) -> None:
    bad = tmp_path / "calibration.json"
    doc = identity_document()
    doc["age"]["knots"] = [[0, 10], [50, 5]]
    bad.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="calibration.json"):
        load_calibration(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError):
        load_calibration(bad)
