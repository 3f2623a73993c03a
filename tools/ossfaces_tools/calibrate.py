"""Fit the shipped calibration (``ossfaces/vision/calibration.json``) on licensed labelled faces; one command.

    python -m ossfaces_tools.calibrate fit MANIFEST [--raw RAW.jsonl] [--train-split train] [--test-split test]
    python -m ossfaces_tools.calibrate fairface-manifest --labels fairface_label_val.csv --images DIR --out M.csv

``fit`` runs the real engine over the manifest (or reads the raw outputs a previous run saved with ``--save-raw``),
fits on the train split only and measures on the held-out split, then writes the calibration file with the data set's
name, licence and split in every fitted block and the held-out figures in ``validation``. It refuses any manifest
whose rows carry a licence off the allow-list (:data:`ossfaces_tools.attreval.ALLOWED_LICENCES`): research-only or
non-commercial data must never fit a shipped number.

What is fitted, each only when the train split has the labels for it (a block without labels keeps its current value):

- **Age map**: isotonic (monotone) regression of the true age on the raw estimate, by pool-adjacent-violators
  (:func:`pav`). Exact ages are fitted by least squares. Binned ages (FairFace) are intervals: the map minimises the
  squared distance of each mapped estimate to its label's interval (zero inside it), by majorise-minimise: PAV on the
  estimates clipped into their intervals, repeated until it settles (:func:`fit_age_map`).
- **Gender thresholds**: per band of the *written* (calibrated) Age, from the product's minimum age up, the smallest
  confidence at which the accuracy over faces at or above it reaches the target (96 %), with at least
  ``min_support`` faces; a band that cannot reach it never writes a gender (``null``). The minimum age itself is a
  product decision and is kept from the current file.
- **Emotion**: temperature by minimum negative log-likelihood (grid, then golden section); with ``--emotion-priors``
  also per-class log-priors (gradient descent on the same likelihood, centred).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces.vision.calibration import CALIBRATION_FILE, AgeMap, Calibration, parameters_digest
from ossfaces_tools.attreval import (
    LabelledFace,
    LicenceRefused,
    ManifestError,
    Record,
    evaluate,
    load_records,
    read_manifest,
    render,
    require_allowed,
    run_engine,
    save_records,
    summary,
)

GENDER_TARGET = 0.96
GENDER_BAND_STARTS = (13, 20, 40, 60)
"""Bands of the written Age for the gender thresholds (the product's minimum age is prepended when lower/higher)."""
MIN_SUPPORT = 50
MAX_KNOTS = 64


def pav(y: Sequence[float] | NDArray[Any], w: Sequence[float] | NDArray[Any] | None = None) -> NDArray[np.float64]:
    """Pool-adjacent-violators: the non-decreasing sequence closest to ``y`` in weighted least squares."""
    values = np.asarray(y, dtype=np.float64)
    weights = np.ones_like(values) if w is None else np.asarray(w, dtype=np.float64)
    means: list[float] = []
    sizes: list[float] = []
    counts: list[int] = []
    for v, wt in zip(values, weights, strict=True):
        means.append(float(v))
        sizes.append(float(wt))
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            m2, s2, c2 = means.pop(), sizes.pop(), counts.pop()
            total = sizes[-1] + s2
            means[-1] = (means[-1] * sizes[-1] + m2 * s2) / total
            sizes[-1] = total
            counts[-1] += c2
    return np.repeat(np.array(means), counts)


def fit_age_map(raw: Sequence[float], low: Sequence[float], high: Sequence[float], *, iterations: int = 200) -> AgeMap:
    """Monotone piecewise-linear map of raw estimates to ages labelled as intervals ``[low, high]`` (equal: exact).

    Least squares to the interval (zero inside it), solved by majorise-minimise from the intervals' midpoints; for
    exact ages the first PAV is the answer. Knots: the ends of each constant block, so the map interpolates between
    blocks (at most :data:`MAX_KNOTS`; thinned evenly beyond that, which keeps it monotone).
    """
    x = np.asarray(raw, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    hi = np.asarray(high, dtype=np.float64)
    if not (len(x) == len(lo) == len(hi)) or len(x) < 2:
        raise ValueError("the age map needs at least two labelled faces")
    order = np.argsort(x, kind="stable")
    x, lo, hi = x[order], lo[order], hi[order]
    ux, inverse = np.unique(x, return_inverse=True)
    counts = np.bincount(inverse).astype(np.float64)

    def grouped(values: NDArray[Any]) -> NDArray[np.float64]:
        return np.asarray(np.bincount(inverse, weights=values) / counts, dtype=np.float64)

    fitted = pav(grouped((lo + hi) / 2), counts)
    if np.any(hi > lo):
        for _ in range(iterations):
            target = np.clip(fitted[inverse], lo, hi)
            new = pav(grouped(target), counts)
            if np.max(np.abs(new - fitted)) < 1e-6:
                fitted = new
                break
            fitted = new
    keep = [0]
    for i in range(1, len(ux)):
        if fitted[i] != fitted[i - 1] or i == len(ux) - 1 or fitted[i + 1] != fitted[i]:
            keep.append(i)
    keep = sorted(set(keep))
    if len(keep) > MAX_KNOTS:
        picks = np.unique(np.linspace(0, len(keep) - 1, MAX_KNOTS).round().astype(int))
        keep = [keep[i] for i in picks]
    xs: list[float] = []
    ys: list[float] = []
    for i in keep:
        xv, yv = round(float(ux[i]), 3), round(float(fitted[i]), 3)
        if xs and xv <= xs[-1]:
            continue
        xs.append(xv)
        ys.append(max(yv, ys[-1]) if ys else yv)
    if len(xs) < 2:
        xs, ys = [xs[0], xs[0] + 1.0], [ys[0], ys[0]]
    return AgeMap(tuple(xs), tuple(ys))


def fit_gender_bands(
    ages: Sequence[int],
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    min_age: float,
    target: float = GENDER_TARGET,
    min_support: int = MIN_SUPPORT,
) -> list[dict[str, Any]]:
    """Per band of written Age from ``min_age``: the smallest confidence giving ``>= target`` accuracy where written."""
    starts = sorted({float(min_age), *(float(s) for s in GENDER_BAND_STARTS if s > min_age)})
    a = np.asarray(ages, dtype=np.float64)
    c = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    bands = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else math.inf
        inside = (a >= start) & (a < end)
        threshold: float | None = None
        for t in np.unique(c[inside]):
            above = inside & (c >= t)
            n = int(above.sum())
            if n >= min_support and ok[above].mean() >= target:
                threshold = round(float(t), 4)
                break
        bands.append({"from_age": start, "min_confidence": threshold, "faces": int(inside.sum())})
    return bands


def _nll(p: NDArray[Any], y: NDArray[Any], temperature: float, priors: NDArray[Any]) -> float:
    logits = np.log(np.maximum(p, 1e-12)) / temperature + priors
    logits = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(logits).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(y)), y]))


def fit_emotion(
    probs: NDArray[Any], labels: Sequence[int], *, priors: bool = False, steps: int = 500
) -> tuple[float, NDArray[np.float64]]:
    """(temperature, log-priors) minimising the negative log-likelihood of ``labels`` (indices in IMM_EMOTIONS)."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    b = np.zeros(len(IMM_EMOTIONS))
    grid = np.exp(np.linspace(math.log(0.2), math.log(5.0), 41))
    best = float(grid[int(np.argmin([_nll(p, y, float(t), b) for t in grid]))])
    lo, hi = best / 1.1, best * 1.1
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        m1, m2 = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if _nll(p, y, m1, b) < _nll(p, y, m2, b):
            hi = m2
        else:
            lo = m1
    temperature = (lo + hi) / 2
    if priors:
        logp = np.log(np.maximum(p, 1e-12)) / temperature
        onehot = np.eye(len(IMM_EMOTIONS))[y]
        for _ in range(steps):
            z = logp + b
            q = np.exp(z - z.max(axis=1, keepdims=True))
            q /= q.sum(axis=1, keepdims=True)
            b -= 1.0 * (q - onehot).mean(axis=0)
            b -= b.mean()
    return round(float(temperature), 4), np.round(b, 4)


def _fitted_on(faces: Sequence[LabelledFace], split: str, n: int) -> dict[str, Any]:
    return {
        "dataset": sorted({f.dataset for f in faces}),
        "licence": sorted({f.licence for f in faces}),
        "split": split,
        "faces": n,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }


def fit(
    records: Sequence[Record],
    base: dict[str, Any],
    *,
    train_split: str = "train",
    test_split: str = "test",
    emotion_priors: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(new calibration document, held-out report before, after). ``LicenceRefused`` before any fitting."""
    require_allowed((r.label for r in records), "fit a shipped calibration")
    train = [r for r in records if r.label.split == train_split and r.raw is not None]
    test = [r for r in records if r.label.split == test_split]
    if not train:
        raise ValueError(f"no matched faces in split {train_split!r}")
    if not test:
        raise ValueError(f"no faces in held-out split {test_split!r}: figures must come from data the fit never saw")
    doc = copy.deepcopy(base)
    doc["name"] = f"fitted-{datetime.now(timezone.utc).strftime('%Y-%m-%d')}"
    cal0 = Calibration.identity()

    aged = [r for r in train if r.label.age_interval is not None]
    if len(aged) >= 2:
        raw_ages = [cal0.expected_age(r.raw.age_probs) for r in aged if r.raw]
        intervals = [r.label.age_interval for r in aged if r.label.age_interval]
        age_map = fit_age_map(raw_ages, [i[0] for i in intervals], [i[1] for i in intervals])
        doc["age"] = {
            **doc["age"],
            "knots": age_map.knots,
            "fitted_on": _fitted_on([r.label for r in aged], train_split, len(aged)),
        }

    gendered = [r for r in train if r.label.gender]
    if gendered:
        mapped = Calibration.from_document(doc)
        ages = [
            mapped.face_fields(r.raw.age_probs, r.raw.gender, 1.0, r.raw.emotions)["Age"] for r in gendered if r.raw
        ]
        bands = fit_gender_bands(
            ages,
            [r.raw.gender_confidence for r in gendered if r.raw],
            [r.raw.gender == r.label.gender for r in gendered if r.raw],
            min_age=float(doc["gender"]["min_age"]),
        )
        doc["gender"] = {
            **doc["gender"],
            "bands": [{"from_age": b["from_age"], "min_confidence": b["min_confidence"]} for b in bands],
            "min_confidence_source": f"fitted: smallest confidence giving >= {GENDER_TARGET:.0%} accuracy where written,"
            f" per band of the written Age, at least {MIN_SUPPORT} faces; null = never written in that band",
            "fitted_on": _fitted_on([r.label for r in gendered], train_split, len(gendered))
            | {"band_faces": [b["faces"] for b in bands]},
        }

    emotional = [r for r in train if r.label.emotion]
    if emotional:
        probs = np.array([[r.raw.emotions[k] for k in IMM_EMOTIONS] for r in emotional if r.raw])
        labels = [IMM_EMOTIONS.index(str(r.label.emotion)) for r in emotional]
        temperature, log_priors = fit_emotion(probs, labels, priors=emotion_priors)
        doc["emotion"] = {
            "temperature": temperature,
            "log_priors": {k: float(v) for k, v in zip(IMM_EMOTIONS, log_priors, strict=True)},
            "fitted_on": _fitted_on([r.label for r in emotional], train_split, len(emotional)),
        }

    fitted = Calibration.from_document(doc)
    before, after = evaluate(test, cal0), evaluate(test, fitted)
    doc["validation"] = validation_block(test, after, parameters_digest(doc), test_split)
    return doc, before, after


def validation_block(records: Sequence[Record], report: dict[str, Any], digest: str, split: str) -> dict[str, Any]:
    """What the stats report quotes: data set, licence, split, the calibration digest it holds for, the figures."""
    labels = [r.label for r in records]
    return {
        "dataset": sorted({f.dataset for f in labels}),
        "licence": sorted({f.licence for f in labels}),
        "split": split,
        "calibration_digest": digest,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "figures": summary(report),
    }


def write_calibration(doc: dict[str, Any], path: Path) -> None:
    """Write the file (checked by parsing it back first) atomically."""
    Calibration.from_document(doc)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def records_for(manifest: Path, raw: Path | None, save_raw: Path | None, threads: int) -> list[Record]:
    """Engine records for a manifest: read from ``raw`` when given (a previous run's), else a real engine run."""
    labels = read_manifest(manifest)
    if raw is not None:
        records = load_records(raw)
        if [str(r.label.path) for r in records] != [str(f.path) for f in labels]:
            raise ValueError(f"{raw} was not made from {manifest} (rows differ): run without --raw")
        return records

    def progress(n: int, total: int) -> None:
        if n % 200 == 0 or n == total:
            print(f"  engine: {n}/{total}", file=sys.stderr)

    records = run_engine(labels, threads=threads, progress=progress)
    if save_raw is not None:
        save_records(records, save_raw)
    return records


def fairface_manifest(labels_csv: Path, images: Path, out: Path, *, test_share: float = 0.5) -> int:
    """A manifest from FairFace's label CSV (``file,age,gender,race,…``); CC BY 4.0. Split by a hash of the file name."""
    import csv

    rows = []
    with labels_csv.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            name = row["file"]
            h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            path = (images / name).resolve()
            rows.append(
                {
                    "path": str(path),
                    "age_bin": row["age"],
                    "gender": row["gender"],
                    "group": row["race"],
                    "emotion": "",
                    "licence": "CC-BY-4.0",
                    "split": "test" if h < test_share else "train",
                    "dataset": "FairFace (Karkkainen & Joo 2021), " + labels_csv.name,
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["path"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ossfaces_tools.calibrate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit on the train split, validate on the held-out split, write the file")
    f.add_argument("manifest", type=Path)
    f.add_argument("--raw", type=Path, help="raw engine outputs saved by a previous run (skips the engine)")
    f.add_argument("--save-raw", type=Path, help="save the engine's raw outputs for later runs")
    f.add_argument("--train-split", default="train")
    f.add_argument("--test-split", default="test")
    f.add_argument("--emotion-priors", action="store_true", help="also fit per-class log-priors for emotion")
    f.add_argument("--base", type=Path, default=CALIBRATION_FILE, help="file whose product decisions are kept")
    f.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    f.add_argument("--threads", type=int, default=1)
    m = sub.add_parser("fairface-manifest", help="a manifest from FairFace's labels CSV and image folder")
    m.add_argument("--labels", type=Path, required=True)
    m.add_argument("--images", type=Path, required=True, help="folder the CSV's file column is relative to")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--test-share", type=float, default=0.5)
    args = parser.parse_args(argv)
    if args.command == "fairface-manifest":
        print(f"{fairface_manifest(args.labels, args.images, args.out, test_share=args.test_share)} rows -> {args.out}")
        return 0
    try:
        require_allowed(read_manifest(args.manifest), "fit a shipped calibration")
        records = records_for(args.manifest, args.raw, args.save_raw, args.threads)
        base = json.loads(args.base.read_text(encoding="utf-8"))
        doc, before, after = fit(
            records, base, train_split=args.train_split, test_split=args.test_split, emotion_priors=args.emotion_priors
        )
    except (LicenceRefused, ManifestError, ValueError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    print(render(before, f"held-out split {args.test_split!r}, before (identity calibration)"))
    print(render(after, f"held-out split {args.test_split!r}, after (fitted calibration)"))
    write_calibration(doc, args.out)
    print(f"wrote {args.out} (calibration digest {parameters_digest(doc)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
