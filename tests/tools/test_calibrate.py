"""The fitter (``ossfaces_tools.calibrate``) and the figures (``ossfaces_tools.attreval``), on synthetic records.

No labelled real data may be used here (see research-data: none is legally available), so the maths is checked on
records built by hand, where the right answer is known: the age map undoes a known regression to the middle, the
gender thresholds appear where accuracy is known, the emotion temperature undoes known over-confidence, and every
figure of the report is counted by hand. The licence gate is checked on a "research-only" manifest.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces.vision.calibration import (
    CALIBRATION_FILE,
    Calibration,
    identity_document,
    load_calibration,
    parameters_digest,
)
from ossfaces_tools import calibrate
from ossfaces_tools.attreval import (
    LabelledFace,
    LicenceRefused,
    RawFace,
    Record,
    evaluate,
    licence_allowed,
    load_records,
    parse_age_bin,
    read_manifest,
    render,
    save_records,
)
from ossfaces_tools.calibrate import fit, fit_age_map, fit_emotion, fit_gender_bands, pav

FAIRFACE_BINS = ((0, 2), (3, 9), (10, 19), (20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, None))


def age_probs(age: float, sd: float = 2.0) -> tuple[float, ...]:
    classes = np.arange(81, dtype=np.float64)
    p = np.exp(-0.5 * ((classes - age) / sd) ** 2)
    return tuple(float(v) for v in p / p.sum())


def emotions(winner: str, confidence: float) -> dict[str, float]:
    rest = (1 - confidence) / 6
    return {k: confidence if k == winner else rest for k in IMM_EMOTIONS}


def record(label: LabelledFace, raw_age: float, gender: str = "MALE", conf: float = 0.9, emo: str = "CALM") -> Record:
    return Record(label, RawFace(age_probs(raw_age), gender, conf, emotions(emo, 0.6)), 1)


@pytest.mark.parametrize(
    "licence", ["CC0-1.0", "CC0", "CC-BY-4.0", "CC BY 4.0", "cc-by-sa-4.0", "PDM-1.0", "MIT", "Apache-2.0"]
)
def test_allowed_licences(licence: str) -> None:
    assert licence_allowed(licence)


@pytest.mark.parametrize(
    "licence",
    ["research-only", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "", "unknown", "GPL-3.0", "ODbL-1.0"],
)
def test_refused_licences(licence: str) -> None:
    assert not licence_allowed(licence)


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_calibrate_refuses_a_research_only_manifest_before_running_anything(tmp_path: Path, capsys: Any) -> None:
    manifest = write_manifest(
        tmp_path / "utk.csv",
        [
            {"path": "a.jpg", "age": 30, "gender": "f", "licence": "research-only", "split": "train"},
            {"path": "b.jpg", "age": 60, "gender": "m", "licence": "CC-BY-4.0", "split": "test"},
        ],
    )
    out = tmp_path / "calibration.json"
    assert calibrate.main(["fit", str(manifest), "--out", str(out)]) == 2  # the photos do not even exist
    err = capsys.readouterr().err
    assert "refusing to fit" in err and "'research-only'" in err and "'CC-BY-4.0'" not in err
    assert not out.exists()
    with pytest.raises(LicenceRefused):
        fit([record(f, 30) for f in read_manifest(manifest)], identity_document())


def test_manifest_csv_and_jsonl_read_the_same(tmp_path: Path) -> None:
    rows = [
        {
            "path": "x/a.jpg",
            "age_bin": "more than 70",
            "gender": "Female",
            "group": "Black",
            "licence": "CC-BY-4.0",
            "split": "test",
        },
        {
            "path": "b.png",
            "age": "8",
            "gender": "m",
            "emotion": "fear",
            "licence": "CC0-1.0",
            "split": "train",
            "x": "10",
            "y": "20",
        },
    ]
    csv_faces = read_manifest(write_manifest(tmp_path / "m.csv", rows))
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_manifest(tmp_path / "m.jsonl") == [LabelledFace(**{**vars(f), "dataset": "m"}) for f in csv_faces]
    a, b = csv_faces
    assert a.age_bin == (70, None) and a.gender == "FEMALE" and a.group == "Black" and a.path == tmp_path / "x/a.jpg"
    assert b.age == 8 and b.emotion == "SCARED" and b.point == (10.0, 20.0) and a.dataset == "m"
    assert parse_age_bin("20-29") == (20, 29) and parse_age_bin("70+") == (70, None)


def test_a_bad_row_names_its_file_and_row(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [{"path": "a.jpg", "gender": "x", "licence": "CC0"}])
    with pytest.raises(ValueError, match=r"m\.csv, row 1: gender"):
        read_manifest(manifest)


def test_pav_pools_violators_and_keeps_weighted_means() -> None:
    assert pav([1, 3, 2, 4]).tolist() == [1, 2.5, 2.5, 4]
    assert pav([5, 4, 3]).tolist() == [4, 4, 4]
    assert pav([3, 1], [3, 1]).tolist() == [2.5, 2.5]
    rng = np.random.default_rng(1)
    y, w = rng.normal(size=300), rng.uniform(0.5, 2, size=300)
    fitted = pav(y, w)
    assert np.all(np.diff(fitted) >= -1e-12)
    assert np.sum(fitted * w) == pytest.approx(np.sum(y * w))
    assert (
        np.sum(w * (y - fitted) ** 2) <= np.sum(w * (y - np.sort(y)) ** 2) + 1e-9
    )  # no worse than another monotone fit


def regressed(true_age: np.ndarray[Any, Any], rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Raw estimates that regress to the middle, as issue 8 describes: slope 0.6 around 35, plus noise."""
    estimates: np.ndarray[Any, Any] = np.clip(
        35 + 0.6 * (true_age - 35) + rng.normal(0, 3, size=true_age.shape), 0.25, 80
    )
    return estimates


def test_age_map_from_exact_ages_removes_a_regression_to_the_middle() -> None:
    rng = np.random.default_rng(7)
    true_age = rng.uniform(0, 85, size=3000)
    raw = regressed(true_age, rng)
    age_map = fit_age_map(raw.tolist(), true_age.tolist(), true_age.tolist())
    assert np.all(np.diff(age_map.ys) >= 0) and np.all(np.diff(age_map.xs) > 0) and len(age_map.xs) <= 64
    test_true = rng.uniform(5, 80, size=2000)
    test_raw = regressed(test_true, rng)
    before, after = np.abs(test_raw - test_true).mean(), np.abs(age_map(test_raw) - test_true).mean()
    assert after < 0.5 * before
    for low, high in ((60, 80), (13, 19)):
        inside = (test_true >= low) & (test_true <= high)
        assert abs(np.mean(age_map(test_raw[inside]) - test_true[inside])) < 3


def test_age_map_from_bins_moves_estimates_into_their_bins() -> None:
    rng = np.random.default_rng(3)
    true_age = rng.uniform(0, 85, size=4000)
    raw = regressed(true_age, rng)
    bins = [next(b for b in FAIRFACE_BINS if a >= b[0] and (b[1] is None or a < b[1] + 1)) for a in true_age]
    low = [float(b[0]) for b in bins]
    high = [100.0 if b[1] is None else b[1] + 0.999 for b in bins]
    age_map = fit_age_map(raw.tolist(), low, high)
    mapped = age_map(raw)
    inside_before = np.mean([lo <= r <= hi for r, lo, hi in zip(raw, low, high, strict=True)])
    inside_after = np.mean([lo <= m <= hi for m, lo, hi in zip(mapped, low, high, strict=True)])
    assert inside_after > inside_before + 0.15
    assert np.abs(mapped - true_age).mean() < np.abs(raw - true_age).mean()


def test_gender_bands_find_the_smallest_confidence_that_reaches_the_target() -> None:
    rng = np.random.default_rng(5)
    ages, confs, correct = [], [], []
    for _ in range(4000):
        age = int(rng.integers(13, 80))
        conf = float(rng.uniform(0.5, 1.0))
        p_right = 0.55 if age < 20 else (0.80 if conf < 0.8 else 0.99)  # teenagers: near chance at every confidence
        ages.append(age)
        confs.append(conf)
        correct.append(bool(rng.random() < p_right))
    bands = fit_gender_bands(ages, confs, correct, min_age=13)
    assert [b["from_age"] for b in bands] == [13, 20, 40, 60]
    assert bands[0]["min_confidence"] is None  # never reaches 96 %: this band writes no gender
    for b in bands[1:]:
        assert b["min_confidence"] is not None and 0.7 <= b["min_confidence"] <= 0.85


def test_emotion_temperature_undoes_over_confidence_and_priors_help_a_neglected_class() -> None:
    rng = np.random.default_rng(9)
    n = 3000
    labels = rng.integers(0, 7, size=n)
    logits = rng.normal(0, 1, size=(n, 7))
    logits[np.arange(n), labels] += 1.0
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    sharp = true_p**3 / (true_p**3).sum(axis=1, keepdims=True)  # the same ranking, over-confident
    temperature, priors = fit_emotion(sharp, labels.tolist())
    assert 2.5 < temperature < 3.5 and not priors.any()
    sad = IMM_EMOTIONS.index("SAD")
    biased = true_p.copy()
    biased[:, sad] *= 0.2  # the model rarely says SAD
    biased /= biased.sum(axis=1, keepdims=True)
    _, priors = fit_emotion(biased, labels.tolist(), priors=True)
    assert priors[sad] == max(priors) and priors[sad] > 1.0 and abs(priors.sum()) < 1e-3


def label(age: float | None = None, gender: str | None = None, split: str = "test", **kw: Any) -> LabelledFace:
    return LabelledFace(Path("p.jpg"), "CC0-1.0", split, "synthetic", age=age, gender=gender, **kw)


def test_report_counts_every_figure_by_hand() -> None:
    rows = [
        record(label(10, "FEMALE", group="A"), 14, "MALE", 0.9, "HAPPY"),  # age +4, band 0-12
        record(label(16, "MALE", group="A"), 22, "MALE", 0.97, "SAD"),  # age +6, 13-19
        record(label(30, "FEMALE", group="B", emotion="HAPPY"), 28, "FEMALE", 0.6, "HAPPY"),  # -2
        record(label(70, "MALE", group="B", emotion="SAD"), 62, "FEMALE", 0.7, "HAPPY"),  # -8, gender wrong
        Record(label(40, "MALE"), None, 0),  # no face found
    ]
    cal = load_calibration()  # shipped: identity age map, no gender under 13
    rep = evaluate(rows, cal)
    assert rep["faces"] == {"labelled": 5, "matched": 4, "no_face_found": 1}
    age = rep["age_exact"]
    assert age["n"] == 4 and age["mae"] == pytest.approx(5.0) and age["mean_signed_error"] == pytest.approx(0.0)
    assert age["within_5_years"] == pytest.approx(0.5)
    assert age["bands"]["0-12"] == {"n": 1, "mean_signed_error": 4.0, "mae": 4.0}
    assert age["bands"]["60+"]["mean_signed_error"] == -8.0 and age["bands"]["40-59"]["n"] == 0
    g = rep["gender"]
    assert (g["n"], g["written"]) == (4, 4)  # the 10-year-old reads 14: written (the rule reads the estimate)
    assert g["accuracy_where_written"] == pytest.approx(0.5)
    assert g["groups"]["A"]["accuracy_where_written"] == pytest.approx(0.5) and g["group_gap_points"] == pytest.approx(
        0
    )
    assert sum(r["n"] for r in g["reliability"]) == 4
    e = rep["emotion"]
    assert e["n"] == 2 and e["accuracy"] == pytest.approx(0.5) and e["confusion"]["SAD"]["HAPPY"] == 1
    text = render(rep, "synthetic")
    assert "faces: 5 labelled, 4 matched, 1 without a detected face" in text
    assert "MAE 5.00 y, mean signed error +0.00 y, within 5 years 50.0%" in text


def test_a_face_estimated_under_13_has_no_gender_in_the_report() -> None:
    rows = [record(label(9, "FEMALE"), 8, "FEMALE", 0.99), record(label(40, "MALE"), 41, "MALE", 0.99)]
    shipped = evaluate(rows, load_calibration())["gender"]
    identity = evaluate(rows, Calibration.identity())["gender"]
    assert (shipped["written"], shipped["bands"]["0-12"]["coverage"]) == (1, 0.0)
    assert (identity["written"], identity["bands"]["0-12"]["coverage"]) == (2, 1.0)


def synthetic_records(n: int, rng: np.random.Generator) -> list[Record]:
    out = []
    for i in range(n):
        true_age = float(rng.uniform(2, 85))
        raw_age = float(np.clip(35 + 0.6 * (true_age - 35) + rng.normal(0, 3), 0.5, 79))
        sex = "FEMALE" if i % 2 else "MALE"
        conf = float(rng.uniform(0.5, 1.0))
        said = sex if rng.random() < (0.6 if true_age < 13 else conf) else ("MALE" if sex == "FEMALE" else "FEMALE")
        emo = IMM_EMOTIONS[i % 7]
        out.append(
            Record(
                LabelledFace(
                    Path(f"{i}.jpg"),
                    "CC-BY-4.0",
                    "train" if i % 3 else "test",
                    "synthetic",
                    age=round(true_age),
                    gender=sex,
                    emotion=emo,
                ),
                RawFace(age_probs(raw_age), said, conf, emotions(emo if rng.random() < 0.6 else "ANGRY", 0.9)),
                1,
            )
        )
    return out


def test_fit_writes_a_file_that_says_where_every_number_came_from(tmp_path: Path) -> None:
    records = synthetic_records(1500, np.random.default_rng(11))
    base = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    doc, before, after = fit(records, base)
    out = tmp_path / "calibration.json"
    calibrate.write_calibration(doc, out)
    fitted = load_calibration(out)
    assert not fitted.age.is_identity and fitted.gender.min_age == 13  # the product decision is kept
    for block in ("age", "gender", "emotion"):
        assert doc[block]["fitted_on"]["split"] == "train" and doc[block]["fitted_on"]["licence"] == ["CC-BY-4.0"]
    val = doc["validation"]
    assert val["split"] == "test" and val["calibration_digest"] == fitted.digest == parameters_digest(doc)
    assert val["figures"]["faces"]["labelled"] == sum(r.label.split == "test" for r in records)
    assert fitted.digest != load_calibration().digest
    assert after["age_exact"]["mae"] < before["age_exact"]["mae"]
    assert after["gender"]["accuracy_where_written"] > before["gender"]["accuracy_where_written"]
    assert abs(after["age_exact"]["bands"]["60+"]["mean_signed_error"]) < abs(
        before["age_exact"]["bands"]["60+"]["mean_signed_error"]
    )


def test_fit_needs_a_held_out_split() -> None:
    records = [r for r in synthetic_records(60, np.random.default_rng(2)) if r.label.split == "train"]
    with pytest.raises(ValueError, match="held-out"):
        fit(records, identity_document())


def test_raw_records_round_trip(tmp_path: Path) -> None:
    records = [
        *synthetic_records(5, np.random.default_rng(4)),
        Record(label(40, point=(1.0, 2.0), age_bin=None), None, 0),
    ]
    save_records(records, tmp_path / "raw.jsonl")
    back = load_records(tmp_path / "raw.jsonl")
    assert back == records
    assert math.isclose(sum(back[0].raw.age_probs if back[0].raw else ()), 1.0)


SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_attributes.py"


def synthetic_manifest(tmp_path: Path, records: list[Record]) -> tuple[Path, Path]:
    """A CC0 manifest whose rows are ``records``' labels, and the raw engine outputs for it (no engine, no photos)."""
    rows = []
    for r in records:
        lab = r.label
        rows.append(
            {
                "path": lab.path.name,
                "age": "" if lab.age is None else int(lab.age),
                "gender": lab.gender or "",
                "emotion": lab.emotion or "",
                "licence": lab.licence,
                "split": lab.split,
                "dataset": lab.dataset,
            }
        )
    manifest = write_manifest(tmp_path / "synthetic.csv", rows)
    labels = read_manifest(manifest)
    raw = tmp_path / "raw.jsonl"
    save_records([Record(lab, r.raw, r.faces_found) for lab, r in zip(labels, records, strict=True)], raw)
    return manifest, raw


def run_script(*args: str) -> Any:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(SCRIPT.parents[1] / d) for d in ("function", "localstack", "tools")),
    }
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_fit_then_validate_is_two_commands_on_licensed_data(tmp_path: Path) -> None:
    """The owner's path: ``calibrate fit`` on the train split, then ``eval_attributes --write-metadata`` on test."""
    manifest, raw = synthetic_manifest(tmp_path, synthetic_records(900, np.random.default_rng(13)))
    out = tmp_path / "calibration.json"
    assert calibrate.main(["fit", str(manifest), "--raw", str(raw), "--out", str(out)]) == 0
    fitted = load_calibration(out)
    assert fitted.validation is not None and fitted.validation["calibration_digest"] == fitted.digest

    again = run_script(
        str(SCRIPT),
        str(manifest),
        "--raw",
        str(raw),
        "--split",
        "train",
        "--write-metadata",
        "--calibration-file",
        str(out),
    )
    assert (
        again.returncode == 2 and "fitted on ['train']" in again.stderr
    )  # never validate on the data it was fitted on
    done = run_script(
        str(SCRIPT),
        str(manifest),
        "--raw",
        str(raw),
        "--split",
        "test",
        "--write-metadata",
        "--calibration-file",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "== identity (before)" in done.stdout and "== shipped calibration.json (after)" in done.stdout
    rewritten = load_calibration(out)
    assert rewritten.digest == fitted.digest  # a validation block does not change the engine version
    assert rewritten.validation is not None and rewritten.validation["split"] == "test"
    assert rewritten.validation["figures"]["faces"]["labelled"] == sum(
        1 for f in read_manifest(manifest) if f.split == "test"
    )


def test_raw_outputs_of_another_manifest_are_refused(tmp_path: Path) -> None:
    manifest, raw = synthetic_manifest(tmp_path, synthetic_records(30, np.random.default_rng(1)))
    other = write_manifest(
        tmp_path / "other.csv", [{"path": "z.jpg", "gender": "f", "licence": "CC0", "split": "test"}]
    )
    assert calibrate.main(["fit", str(other), "--raw", str(raw), "--out", str(tmp_path / "c.json")]) == 2


def test_fairface_labels_become_a_manifest_with_bins_licence_and_a_stable_split(tmp_path: Path) -> None:
    labels = tmp_path / "fairface_label_val.csv"
    lines = ["file,age,gender,race,service_test"]
    lines += [
        f"val/{i}.jpg,{b},{'Female' if i % 2 else 'Male'},East Asian,True"
        for i, b in enumerate(["0-2", "3-9", "more than 70", "20-29"] * 25)
    ]
    labels.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fairface_val.csv"
    assert (
        calibrate.main(["fairface-manifest", "--labels", str(labels), "--images", str(tmp_path), "--out", str(out)])
        == 0
    )
    faces = read_manifest(out)
    assert len(faces) == 100 and {f.licence for f in faces} == {"CC-BY-4.0"} and faces[2].age_bin == (70, None)
    assert faces[0].path == tmp_path / "val/0.jpg" and faces[1].gender == "FEMALE" and faces[0].group == "East Asian"
    assert 25 < sum(f.split == "test" for f in faces) < 75
    calibrate.main(
        ["fairface-manifest", "--labels", str(labels), "--images", str(tmp_path), "--out", str(tmp_path / "again.csv")]
    )
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()
