"""Synthetic labelled faces with known answers, for the calibration fitter's tests (no photos, no ../shared).

The raw outputs are made to behave like the real networks' failings that the fit must undo: an age estimate that
regresses to the middle (slope 0.6 around 35, plus noise), a gender network near chance for children and less sure
of some faces, an embedding whose first coordinate carries the gender, smiles the emotion network under-calls.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces_tools.calibration.engine import RawFace, Record, save_records
from ossfaces_tools.calibration.labels import LabelledFace, read_manifest

FAIRFACE_BINS = ((0, 2), (3, 9), (10, 19), (20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, None))


def age_probs(age: float, sd: float = 2.0) -> tuple[float, ...]:
    classes = np.array([0.25, *range(1, 81)])
    p = np.exp(-0.5 * ((classes - age) / sd) ** 2)
    return tuple(float(v) for v in p / p.sum())


def emotions(happy: float) -> dict[str, float]:
    rest = (1 - happy) / 6
    return {k: happy if k == "HAPPY" else rest for k in IMM_EMOTIONS}


def regressed(true_age: float, rng: np.random.Generator) -> float:
    return float(np.clip(35 + 0.6 * (true_age - 35) + rng.normal(0, 3), 0.5, 79.5))


def synthetic_records(n: int, rng: np.random.Generator, *, licence: str = "CC-BY-4.0") -> list[Record]:
    """Half binned (like FairFace), half exact ages; every third person in the holdout split."""
    out = []
    for i in range(n):
        true_age = float(rng.uniform(1, 84))
        male = bool(i % 2)
        split = "holdout" if i % 3 == 0 else "fit"
        child = true_age < 13
        p_right = 0.55 if child else float(rng.uniform(0.7, 1.0))
        says_male = male if rng.random() < p_right else not male
        confidence = p_right if not child else 0.6
        embedding = np.zeros(128)
        embedding[0] = (1.0 if male else -1.0) * 0.3 + rng.normal(0, 0.1)
        embedding[1:] = rng.normal(0, 0.05, 127)
        embedding /= np.linalg.norm(embedding)
        smiling = i % 4 == 1
        happy = float(rng.uniform(0.01, 0.6) if smiling else rng.uniform(0.0, 0.05))
        b = next(b for b in FAIRFACE_BINS if true_age >= b[0] and (b[1] is None or true_age < b[1] + 1))
        binned = i % 2 == 0
        label = LabelledFace(
            Path(f"{i}.jpg"),
            licence,
            split,
            "synthetic-binned" if binned else "synthetic-exact",
            age=None if binned else float(int(true_age)),
            age_bin=b if binned else None,
            gender="MALE" if male else "FEMALE",
            emotion=("HAPPY" if smiling else "CALM") if i % 4 in (1, 3) else None,
        )
        raw = RawFace(
            age_probs(regressed(true_age, rng)),
            "MALE" if says_male else "FEMALE",
            float(max(confidence, 0.5)),
            emotions(happy),
            tuple(float(v) for v in embedding),
        )
        out.append(Record(label, raw, 1))
    return out


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    return path


def manifest_and_raw(folder: Path, records: list[Record]) -> tuple[Path, Path]:
    """A manifest whose rows are ``records``' labels, and their raw outputs as a ``--raw`` file (no engine)."""
    rows = []
    for r in records:
        lab = r.label
        rows.append(
            {
                "path": lab.path.name,
                "age": "" if lab.age is None else int(lab.age),
                "age_bin": ""
                if lab.age_bin is None
                else f"{lab.age_bin[0]}+"
                if lab.age_bin[1] is None
                else f"{lab.age_bin[0]}-{lab.age_bin[1]}",
                "gender": lab.gender or "",
                "emotion": lab.emotion or "",
                "licence": lab.licence,
                "split": lab.split,
                "dataset": lab.dataset,
            }
        )
    manifest = write_manifest(folder / "synthetic.csv", rows)
    labels = read_manifest(manifest)
    raw = folder / "raw.jsonl"
    save_records([Record(lab, r.raw, r.faces_found) for lab, r in zip(labels, records, strict=True)], raw)
    return manifest, raw
