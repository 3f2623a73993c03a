"""The fitter (``ossfaces_tools.calibration``): each fit on synthetic faces whose right answer is known, the whole fit
and the two commands (fit, then measure) on a synthetic manifest, and the licence gate.

No labelled photos are needed (users and CI do not have ``../shared``): raw outputs are made by
``calibration_support`` to fail the way the real networks do; the real-photo path is in
``tests/vision/test_eval_attributes.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ossfaces.vision.calibration import CALIBRATION_FILE, Calibration, identity_document, load_calibration
from ossfaces_tools import calibrate
from ossfaces_tools.calibration.engine import RawFace, Record, load_records, save_records
from ossfaces_tools.calibration.evaluate import evaluate
from ossfaces_tools.calibration.fit import fit
from ossfaces_tools.calibration.fitage import fit_inverse_map, fit_spread
from ossfaces_tools.calibration.fitemotion import fit_emotion
from ossfaces_tools.calibration.fitgender import fit_bands, fit_head, head_p_male
from ossfaces_tools.calibration.labels import LabelledFace, LicenceRefused, read_manifest

from .calibration_support import manifest_and_raw, regressed, synthetic_records, write_manifest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "eval_attributes.py"


def test_calibrate_refuses_a_research_only_manifest_before_running_anything(tmp_path: Path, capsys: Any) -> None:
    manifest = write_manifest(
        tmp_path / "utk.csv",
        [
            {"path": "a.jpg", "age": 30, "gender": "f", "licence": "research-only", "split": "fit"},
            {"path": "b.jpg", "age": 60, "gender": "m", "licence": "CC-BY-4.0", "split": "holdout"},
        ],
    )
    out = tmp_path / "calibration.json"
    assert calibrate.main(["fit", str(manifest), "--out", str(out)]) == 2  # the photos do not even exist
    err = capsys.readouterr().err
    assert "refusing to fit" in err and "'research-only'" in err and "'CC-BY-4.0'" not in err
    assert not out.exists()
    records = [Record(f, None, 0) for f in read_manifest(manifest)]
    with pytest.raises(LicenceRefused):
        fit(records, identity_document(), engine="test")


def test_the_inverse_map_removes_the_regression_to_the_middle_in_every_band() -> None:
    rng = np.random.default_rng(7)
    true_age = rng.uniform(1, 84, size=3000)
    raw = np.array([regressed(a, rng) for a in true_age])
    age_map = fit_inverse_map(raw.tolist(), true_age.tolist(), 100.0)
    assert np.all(np.diff(age_map.xs) > 0) and np.all(np.diff(age_map.ys) >= 0)
    test_true = rng.uniform(5, 80, size=3000)
    test_raw = np.array([regressed(a, rng) for a in test_true])
    for low, high in ((10, 20), (20, 40), (40, 60), (60, 80)):
        inside = (test_true >= low) & (test_true < high)
        before = np.mean(test_raw[inside] - test_true[inside])
        after = np.mean(age_map(test_raw[inside]) - test_true[inside])
        assert abs(after) < 1.5 < abs(before) or abs(before) < 3  # the middle band was never far off


def test_the_spread_holds_ninety_percent_of_true_ages() -> None:
    records = synthetic_records(2000, np.random.default_rng(3))
    train, test = records[:1400], records[1400:]
    age_map = fit_inverse_map(
        [float(np.dot(r.raw.age_probs, [0.25, *range(1, 81)])) for r in train if r.raw],
        [float(r.label.age_target or 0) for r in train],
        100.0,
    )
    spread = fit_spread(train, age_map)
    doc = identity_document()
    doc["age"]["knots"] = age_map.knots
    doc["age"]["sd_model"] = {
        "log_scale": spread.log_scale,
        "spread_power": spread.spread_power,
        "per_50_years": spread.per_50_years,
    }
    coverage = evaluate(test, Calibration.from_document(doc))["age_sd"]["coverage_90"]
    assert 0.82 <= coverage <= 0.96  # about 90 % (bins are read as uniform, the map is not linear)
    assert evaluate(test, Calibration.identity())["age_sd"]["coverage_90"] < 0.8  # the network's own spread is not


def test_gender_bands_find_the_smallest_confidence_that_reaches_the_target_in_every_set() -> None:
    rng = np.random.default_rng(5)
    ages, confs, correct, sets = [], [], [], []
    for i in range(4000):
        age = int(rng.integers(13, 80))
        conf = float(rng.uniform(0.5, 1.0))
        hard = i % 2 == 0  # one set is harder at the same confidence
        p_right = 0.55 if age < 20 else (0.80 if conf < 0.8 else (0.96 if hard else 0.999))
        ages.append(age)
        confs.append(conf)
        correct.append(bool(rng.random() < p_right))
        sets.append("hard" if hard else "easy")
    bands = fit_bands(ages, confs, correct, sets, min_age=13)
    assert [b["from_age"] for b in bands] == [13, 20, 40, 60]
    assert bands[0]["min_confidence"] is None  # teenagers near chance: this band never writes
    a, c, ok, where = np.array(ages), np.array(confs), np.array(correct), np.array(sets)
    for b, end in zip(bands[1:], [40, 60, 100], strict=True):
        t = b["min_confidence"]
        assert t is not None and 0.7 <= t <= 0.86
        written = (a >= b["from_age"]) & (a < end) & (c >= t)
        assert ok[written].mean() >= 0.96 and ok[written & (where == "hard")].mean() >= 0.90
        below = (a >= b["from_age"]) & (a < end) & (c >= t - 0.01)
        assert ok[below].mean() < 0.96 or ok[below & (where == "hard")].mean() < 0.90  # the smallest such


def test_gender_head_learns_what_the_embedding_says() -> None:
    records = synthetic_records(1200, np.random.default_rng(9))
    head = fit_head(records[:900], 0.1)
    assert len(head.embedding) == 128 and head.embedding[0] > 1.0  # coordinate 0 carries the gender
    test = records[900:]
    truth = np.array([r.label.gender == "MALE" for r in test])
    net = np.array([r.raw.gender == "MALE" for r in test if r.raw])
    assert np.mean((head_p_male(head, test) >= 0.5) == truth) > np.mean(net == truth) + 0.05


def test_the_happy_prior_calls_more_smiles_happy_and_keeps_neutral_faces_calm() -> None:
    records = synthetic_records(2000, np.random.default_rng(4))
    emotion = fit_emotion(records)
    assert emotion is not None and emotion.happy_prior > 0
    assert emotion.cv_neutral_happy <= 0.08 and emotion.cv_smiling_happy > 0.5


def test_fit_writes_a_file_that_says_where_every_number_came_from(tmp_path: Path) -> None:
    records = synthetic_records(1500, np.random.default_rng(11))
    base = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    outcome = fit(records, base, engine="synthetic-engine")
    doc = outcome.document
    calibrate_out = tmp_path / "calibration.json"
    from ossfaces_tools.calibration.cli import write_calibration

    write_calibration(doc, calibrate_out)
    fitted = load_calibration(calibrate_out)
    assert fitted.gender.min_age == 13  # the product decision is kept
    for block in ("age", "gender", "emotion"):
        assert doc[block]["fitted_on"]["split"] == "fit" and doc[block]["fitted_on"]["licence"] == ["CC-BY-4.0"]
    assert doc["age"]["chosen"]["penalty"] in [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0]
    assert set(doc["gender"]["chosen"]) >= {"penalty", "coverage_with_head", "coverage_without_head"}
    val = fitted.validation
    assert val is not None and val["split"] == "holdout" and val["calibration_digest"] == fitted.digest
    assert val["engine"] == "synthetic-engine" and val["faces"] == sum(r.label.split == "holdout" for r in records)
    before, after = outcome.before["age_exact"]["bands"], outcome.after["age_exact"]["bands"]
    assert abs(after["60+"]["mean_signed_error"]) < abs(before["60+"]["mean_signed_error"])
    assert outcome.after["gender"]["accuracy_where_written"] > outcome.before["gender"]["accuracy_where_written"]


def test_fit_needs_a_held_out_split() -> None:
    records = [r for r in synthetic_records(60, np.random.default_rng(2)) if r.label.split == "fit"]
    with pytest.raises(ValueError, match="held-out"):
        fit(records, identity_document(), engine="test")


def test_raw_records_round_trip(tmp_path: Path) -> None:
    records = [
        *synthetic_records(5, np.random.default_rng(4)),
        Record(LabelledFace(Path("p.jpg"), "CC0", "fit", "x", age_upper=71.0, centre=True, person="7"), None, 0),
        Record(LabelledFace(Path("q.jpg"), "CC0"), RawFace((1.0,) * 81, "MALE", 0.7, {"CALM": 1.0}, None), 2),
    ]
    save_records(records, tmp_path / "raw.jsonl")
    back = load_records(tmp_path / "raw.jsonl")
    assert back == records
    assert back[0].raw is not None and math.isclose(sum(back[0].raw.age_probs), 1.0)


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("function", "localstack", "tools"))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.slow
def test_fit_then_validate_is_two_commands_on_licensed_data(tmp_path: Path) -> None:
    """The owner's path: ``calibrate fit`` (fit → holdout), then ``eval_attributes --write-metadata`` on holdout."""
    manifest, raw = manifest_and_raw(tmp_path, synthetic_records(900, np.random.default_rng(13)))
    out = tmp_path / "calibration.json"
    assert calibrate.main(["fit", str(manifest), "--raw", str(raw), "--out", str(out)]) == 0
    fitted = load_calibration(out)
    assert fitted.validation is not None and fitted.validation["calibration_digest"] == fitted.digest
    common = [str(SCRIPT), str(manifest), "--raw", str(raw), "--write-metadata", "--calibration-file", str(out)]
    again = run_script(*common, "--split", "fit")
    assert again.returncode == 2 and "fitted on ['fit']" in again.stderr  # never validated on what it was fitted on
    done = run_script(*common, "--split", "holdout")
    assert done.returncode == 0, done.stderr
    assert (
        "columns: [1] identity, [2] shipped" in done.stdout
        and "-- AgeSD" in done.stdout
        and "-- gender per set" in done.stdout
    )
    rewritten = load_calibration(out)
    assert rewritten.digest == fitted.digest  # a validation block does not change the engine version
    assert rewritten.validation is not None and rewritten.validation["split"] == "holdout"


def test_raw_outputs_of_other_labels_are_refused(tmp_path: Path, capsys: Any) -> None:
    manifest, raw = manifest_and_raw(tmp_path, synthetic_records(30, np.random.default_rng(1)))
    other = write_manifest(tmp_path / "other.csv", [{"path": "z.jpg", "gender": "f", "licence": "CC0", "split": "fit"}])
    assert calibrate.main(["fit", str(other), "--raw", str(raw), "--out", str(tmp_path / "c.json")]) == 2
    assert "rows differ" in capsys.readouterr().err
