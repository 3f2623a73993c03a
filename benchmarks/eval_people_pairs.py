"""People's clustering threshold on licensed pairs: fit on the `fit` split, figures on `holdout`.

Positives: the London set's neutral and smiling photo of the same person (one pair per person). Negatives: every pair
of photos of two different people across the licensed sets (London, Canada, Congress, FairFace: a person appears in
one set only, and each set's rows are distinct people except London's pairs). Each photo goes through the real local
engine (``FaceAnalyzer``); its SFace vector is the one written in ``Embedding`` (the face nearest the photo's centre).

For a cosine distance ``d``: pair precision = same-person pairs within ``d`` / all pairs within ``d``; recall =
same-person pairs within ``d`` / all same-person pairs. The chosen ``max_distance`` is the largest with fit precision
>= the goal (0.97); the held-out figures at it are what the docs quote. The photos stay in ``../shared`` (never
committed); without that folder this script says so and exits 0.

    .venv/bin/python benchmarks/eval_people_pairs.py [--data ../shared/data/licensed-faces] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = ("london", "canada", "congress", "fairface540")
GOAL_PRECISION = 0.97
CACHE = ROOT / ".cache" / "people-pairs"


def embed(data_dir: Path) -> dict[str, Any]:
    """Per photo: set, person, split, vector (None when the engine wrote none). Cached by the photo list."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / "embeddings-v2.json"
    if cached.exists():
        found: dict[str, Any] = json.loads(cached.read_text())
        return found
    from ossfaces.embedding import decode_vector, encode_vector
    from ossfaces.vision import FaceAnalyzer

    analyzer = FaceAnalyzer.load()
    out: dict[str, Any] = {}
    started = time.perf_counter()
    for name in SETS:
        with (data_dir / name / "labels.csv").open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                photo = data_dir / name / row["file"]
                person = (
                    f"{name}/{Path(row['file']).stem.split('_')[0]}" if name == "london" else f"{name}/{row['file']}"
                )
                analysis = analyzer.analyze(photo.read_bytes())
                width, height = analysis.image.width, analysis.image.height
                best, vector, age = None, None, None
                for face, embedding in zip(analysis.faces, analysis.embeddings, strict=True):
                    if embedding is None:
                        continue
                    box = face["FaceAttributes"]["FaceBoundary"]
                    off = abs(box["Left"] + box["Width"] / 2 - width / 2) + abs(
                        box["Top"] + box["Height"] / 2 - height / 2
                    )
                    if best is None or off < best:  # as written in the document: unit length, float16
                        best, vector, age = off, decode_vector(encode_vector(embedding)).tolist(), face.get("Age")
                out[f"{name}/{row['file']}"] = {"person": person, "split": row["split"], "vector": vector, "age": age}
        print(f"{name}: embedded ({time.perf_counter() - started:.0f} s so far)", file=sys.stderr, flush=True)
    cached.write_text(json.dumps(out))
    return out


def figures(photos: dict[str, Any], split: str, grid: Any, adults: bool = False) -> dict[str, Any]:
    """``adults``: only photos whose face the engine puts at 13 or older (what an age-aware threshold would leave)."""
    rows = [
        (p["person"], np.asarray(p["vector"], np.float32))
        for p in photos.values()
        if p["split"] == split and p["vector"] and (not adults or (p.get("age") or 0) >= 13)
    ]
    people = np.asarray([r[0] for r in rows])
    vectors = np.stack([r[1] for r in rows])
    similarity = vectors @ vectors.T
    upper = np.triu_indices(len(rows), 1)
    same = people[upper[0]] == people[upper[1]]
    distance = 1.0 - similarity[upper]
    positives = np.sort(distance[same])
    negatives = np.sort(distance[~same])
    tp = np.searchsorted(positives, grid, side="right")
    fp = np.searchsorted(negatives, grid, side="right")
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = tp / max(len(positives), 1)
    embedded = sum(1 for p in photos.values() if p["split"] == split and p["vector"])
    total = sum(1 for p in photos.values() if p["split"] == split)
    return {"photos": total, "embedded": embedded, "positive_pairs": len(positives),
            "negative_pairs": len(negatives), "closest_strangers": [round(float(x), 4) for x in negatives[:3]],
            "farthest_same_person": [round(float(x), 4) for x in positives[-3:]],
            "precision": precision, "recall": recall, "fp": fp}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "licensed-faces")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.data / "london" / "labels.csv").exists():
        print(f"skipped: no licensed faces at {args.data} (development-time data, see ../shared/data)")
        return 0
    sys.path[:0] = [str(ROOT / "function"), str(ROOT / "tools")]
    from ossfaces_tools.people.cluster import DEFAULT_MAX_DISTANCE

    photos = embed(args.data)
    grid = np.round(np.arange(0.20, 0.801, 0.005), 3)
    fit, hold = figures(photos, "fit", grid), figures(photos, "holdout", grid)
    ok = np.flatnonzero(fit["precision"] >= GOAL_PRECISION)
    chosen = int(ok.max()) if len(ok) else 0
    current = int(np.argmin(np.abs(grid - DEFAULT_MAX_DISTANCE)))

    def at(i: int, part: dict[str, Any]) -> dict[str, Any]:
        return {"max_distance": float(grid[i]), "precision": round(float(part["precision"][i]), 4),
                "recall": round(float(part["recall"][i]), 4), "false_pairs": int(part["fp"][i])}  # fmt: skip

    result = {
        "command": "benchmarks/eval_people_pairs.py",
        "goal": f"pair precision >= {GOAL_PRECISION} on fit, then held-out figures",
        "fit": {k: v for k, v in fit.items() if k not in ("precision", "recall", "fp")},
        "holdout": {k: v for k, v in hold.items() if k not in ("precision", "recall", "fp")},
        "chosen": {"fit": at(chosen, fit), "holdout": at(chosen, hold)},
        "current_default": {"fit": at(current, fit), "holdout": at(current, hold)},
        "current_default_adults_only": {
            "fit": at(current, figures(photos, "fit", grid, adults=True)),
            "holdout": at(current, figures(photos, "holdout", grid, adults=True)),
        },
    }
    print(json.dumps(result, indent=2) if args.json else json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
