"""The figures: what a calibration writes for labelled faces, against their labels, as a JSON-able dict.

Each kind of age label is measured on its own terms (:mod:`.labels`):

- **bins** (FairFace): the share whose written Age falls in the right bin; per bin the mean signed error *to the bin*
  (0 inside it, else the distance to its nearer edge, signed) and against its midpoint (an open bin ``70+`` read as
  70-84);
- **exact ages** (London, Canada): MAE, mean signed error per band, share within 5 years;
- **upper bounds** (Congress): per decade of the bound, the mean of Age minus the bound. The true age at the photo
  is at or below the bound (by a few years: portraits are older than the copy), so a faithful engine reads a little
  under it;
- **AgeSD coverage**: the share of faces whose true age lies within ``Age ± 1.645 AgeSD`` (90 % for an honest
  normal spread). A label is a range of ages (an exact age its year, a bin its years, ``70+`` read as 70-84) and
  counts the share of it the interval covers (the true age taken as uniform within it); upper bounds are left out;
- **gender** where written (accuracy) and how often it is written (coverage): overall, for faces whose written Age is
  13 or more, per set, per FairFace bin, per labelled group; recall per class, a reliability table;
- **emotion**: for each labelled class, the share given each emotion (London: smiling → HAPPY, neutral → HAPPY).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces.vision.calibration import Calibration
from ossfaces_tools.calibration.engine import RawFace, Record
from ossfaces_tools.calibration.labels import GENDERS, LabelledFace, bin_name

Z90 = 1.645
"""Half-width of a central 90 % normal interval, in standard deviations."""
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-12", 0, 12),
    ("13-19", 13, 19),
    ("20-39", 20, 39),
    ("40-59", 40, 59),
    ("60+", 60, None),
)
"""Bands for exact ages."""
GENDER_ADULT_AGE = 13
"""The goal's population for gender: faces whose written Age is at least this."""
RELIABILITY_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class Prediction:
    """The document fields one calibration writes for a record (what a user reads)."""

    age: int
    age_sd: float
    gender: str | None
    gender_confidence: float | None
    emotion: str


def predict(raw: RawFace, calibration: Calibration) -> Prediction:
    f = calibration.face_fields(raw.age_probs, raw.gender, raw.gender_confidence, raw.emotions, raw.embedding)
    return Prediction(f["Age"], f["AgeSD"], f.get("Gender"), f.get("GenderConfidence"), f["Emotion"])


Row = tuple[LabelledFace, Prediction]


def _share(k: float, n: int) -> float | None:
    return None if n == 0 else k / n


def _mean(values: Sequence[float]) -> float | None:
    return None if not values else sum(values) / len(values)


def error_to_interval(age: float, low: float, high: float) -> float:
    """0 for a whole-year age inside ``[low, high)``, else the signed distance to the nearer year of the bin."""
    if age < low:
        return age - low
    if age >= high:
        return age - (high - 1)
    return 0.0


def covered_share(age: float, sd: float, low: float, high: float) -> float:
    """Share of the range ``[low, high]`` inside ``age ± Z90·sd``."""
    lo, hi = age - Z90 * sd, age + Z90 * sd
    return max(0.0, min(hi, high) - max(lo, low)) / (high - low)


def evaluate(records: Sequence[Record], calibration: Calibration) -> dict[str, Any]:
    """Every figure of the module docstring for ``records`` under ``calibration`` (``None``: no data)."""
    rows = [(r.label, predict(r.raw, calibration)) for r in records if r.raw is not None]
    return {
        "faces": {
            "labelled": len(records),
            "matched": len(rows),
            "no_face_found": len(records) - len(rows),
            "by_set": _count_by(r.label.dataset for r in records),
        },
        "age_binned": _age_binned([(lab, p) for lab, p in rows if lab.age_bin is not None])
        | {"monotone_ceiling": monotone_ceiling(records)},
        "age_exact": _age_exact([(lab, p) for lab, p in rows if lab.age is not None]),
        "age_upper": _age_upper([(lab, p) for lab, p in rows if lab.age_upper is not None]),
        "age_sd": _age_sd(rows),
        "gender": _gender([(lab, p) for lab, p in rows if lab.gender]),
        "emotion": _emotion([(lab, p) for lab, p in rows if lab.emotion]) | {"happy_share_by_set": _happy(rows)},
    }


def _happy(rows: list[Row]) -> dict[str, float | None]:
    """Share of each set's faces called HAPPY, labelled or not: what a HAPPY prior does to photos without labels."""
    sets = sorted({lab.dataset for lab, _ in rows})
    return {
        s: _share(
            sum(p.emotion == "HAPPY" for lab, p in rows if lab.dataset == s), sum(lab.dataset == s for lab, _ in rows)
        )
        for s in sets
    }


def monotone_ceiling(records: Sequence[Record]) -> float | None:
    """The largest share of binned faces in their right bin that ANY monotone map of the raw estimate can reach on
    ``records``, the map fitted on these very faces (dynamic programme over the faces sorted by raw estimate): a
    limit of this engine's age network, not of a calibration."""
    cal = Calibration.identity()
    rows = sorted(
        ((cal.expected_age(r.raw.age_probs), r.label.age_bin[0]) for r in records if r.raw and r.label.age_bin),
        key=lambda t: t[0],
    )
    if not rows:
        return None
    starts = sorted({b for _, b in rows})
    best = [0] * len(starts)  # best[k]: most hits so far with the last face assigned to bin k or lower
    for _, b in rows:
        hits = [best[k] + (starts[k] == b) for k in range(len(starts))]
        best = [max(hits[: k + 1]) for k in range(len(starts))]
    return best[-1] / len(rows)


def _count_by(keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for k in keys:
        out[k] += 1
    return dict(sorted(out.items()))


def _age_binned(rows: list[Row]) -> dict[str, Any]:
    bins = sorted({lab.age_bin for lab, _ in rows if lab.age_bin is not None}, key=lambda b: b[0])
    per: dict[str, Any] = {}
    hits = 0
    for b in bins:
        cell = [(lab, p) for lab, p in rows if lab.age_bin == b]
        low, high = b[0], math.inf if b[1] is None else b[1] + 1
        inside = sum(low <= p.age < high for _, p in cell)
        hits += inside
        per[bin_name(b)] = {
            "n": len(cell),
            "right_bin": _share(inside, len(cell)),
            "signed_error_to_bin": _mean([error_to_interval(p.age, low, high) for _, p in cell]),
            "signed_error_to_middle": _mean([p.age - float(lab.age_target or 0) for lab, p in cell]),
        }
    return {"n": len(rows), "right_bin": _share(hits, len(rows)), "open_bin": "70+: its middle read as 77", "bins": per}


def _band(age: float) -> str:
    return next(name for name, low, high in AGE_BANDS if age >= low and (high is None or age < high + 1))


def _age_exact(rows: list[Row]) -> dict[str, Any]:
    errors = [(lab, p.age - float(lab.age or 0)) for lab, p in rows]
    bands = {}
    for name, _, _ in AGE_BANDS:
        e = [err for lab, err in errors if _band(float(lab.age or 0)) == name]
        bands[name] = {"n": len(e), "mean_signed_error": _mean(e), "mae": _mean([abs(x) for x in e])}
    return {
        "n": len(rows),
        "mae": _mean([abs(e) for _, e in errors]),
        "mean_signed_error": _mean([e for _, e in errors]),
        "within_5_years": _share(sum(abs(e) <= 5 for _, e in errors), len(errors)),
        "bands": bands,
    }


def _age_upper(rows: list[Row]) -> dict[str, Any]:
    decades: dict[str, list[float]] = defaultdict(list)
    for lab, p in rows:
        upper = float(lab.age_upper or 0)
        decades[f"{int(upper // 10) * 10}s"].append(p.age - upper)
    return {
        "n": len(rows),
        "mean_error_to_upper_bound": _mean([p.age - float(lab.age_upper or 0) for lab, p in rows]),
        "decades": {
            k: {"n": len(v), "mean_error_to_upper_bound": _mean(v)}
            for k, v in sorted(decades.items(), key=lambda kv: int(kv[0][:-1]))
        },
    }


def _coverage(lab: LabelledFace, p: Prediction) -> float | None:
    r = lab.age_range
    return None if r is None else covered_share(p.age, p.age_sd, *r)


def _age_sd(rows: list[Row]) -> dict[str, Any]:
    scored = [(lab, p, c) for lab, p in rows if (c := _coverage(lab, p)) is not None]

    def cell(select: Callable[[LabelledFace], bool]) -> dict[str, Any]:
        values = [(c, p.age_sd) for lab, p, c in scored if select(lab)]
        return {
            "n": len(values),
            "coverage_90": _mean([c for c, _ in values]),
            "mean_age_sd": _mean([sd for _, sd in values]),
        }

    sets = sorted({lab.dataset for lab, _, _ in scored})
    bins = sorted({lab.age_bin for lab, _, _ in scored if lab.age_bin}, key=lambda b: b[0])
    return {
        **cell(lambda _: True),
        "interval": f"Age ± {Z90} AgeSD; bins: share of the bin covered (uniform within it; 70+ read as 70-84)",
        "sets": {s: cell(lambda lab, s=s: lab.dataset == s) for s in sets},  # type: ignore[misc]
        "bins": {bin_name(b): cell(lambda lab, b=b: lab.age_bin == b) for b in bins},  # type: ignore[misc]
    }


def _gender_cell(rows: list[Row]) -> dict[str, Any]:
    written = [(lab, p) for lab, p in rows if p.gender is not None]
    return {
        "n": len(rows),
        "written": len(written),
        "coverage": _share(len(written), len(rows)),
        "accuracy_where_written": _share(sum(p.gender == lab.gender for lab, p in written), len(written)),
    }


def _reliability(rows: list[Row]) -> list[dict[str, Any]]:
    written = [(lab, p, float(p.gender_confidence)) for lab, p in rows if p.gender_confidence is not None]
    out = []
    for low, high in pairwise(RELIABILITY_EDGES):
        top = high == RELIABILITY_EDGES[-1]
        cell = [(lab, p, c) for lab, p, c in written if low <= c and (c < high or (top and c <= high))]
        out.append(
            {
                "confidence": f"{low:.2f}-{high:.2f}",
                "n": len(cell),
                "mean_confidence": _mean([c for _, _, c in cell]),
                "accuracy": _share(sum(p.gender == lab.gender for lab, p, _ in cell), len(cell)),
            }
        )
    return out


def _gender(rows: list[Row]) -> dict[str, Any]:
    def group(key: Callable[[LabelledFace], str | None]) -> dict[str, Any]:
        cells: dict[str, list[Row]] = defaultdict(list)
        for lab, p in rows:
            if (k := key(lab)) is not None:
                cells[k].append((lab, p))
        return {k: _gender_cell(v) for k, v in cells.items()}

    bins = group(lambda lab: bin_name(lab.age_bin) if lab.age_bin else None)
    bins = dict(sorted(bins.items(), key=lambda kv: int(kv[0].split("-")[0].rstrip("+"))))
    groups = dict(sorted(group(lambda lab: f"{lab.dataset}: {lab.group}" if lab.group else None).items()))
    recall = {}
    for g in GENDERS:
        said = [p.gender for lab, p in rows if lab.gender == g and p.gender]
        recall[g] = _share(sum(s == g for s in said), len(said))
    return {
        **_gender_cell(rows),
        "estimated_13_plus": _gender_cell([(lab, p) for lab, p in rows if p.age >= GENDER_ADULT_AGE]),
        "recall_where_written": recall,
        "sets": dict(sorted(group(lambda lab: lab.dataset).items())),
        "bins": bins,
        "groups": groups,
        "group_gap_points": _gaps(groups),
        "reliability": _reliability(rows),
    }


def _gaps(groups: dict[str, Any]) -> dict[str, float]:
    """Per set with groups: best minus worst group's accuracy where written, in points."""
    by_set: dict[str, list[float]] = defaultdict(list)
    for name, cell in groups.items():
        if cell["accuracy_where_written"] is not None:
            by_set[name.split(": ")[0]].append(cell["accuracy_where_written"])
    return {s: 100 * (max(v) - min(v)) for s, v in by_set.items() if len(v) > 1}


def _emotion(rows: list[Row]) -> dict[str, Any]:
    labelled = sorted({str(lab.emotion) for lab, _ in rows})
    confusion = {t: dict.fromkeys(IMM_EMOTIONS, 0) for t in labelled}
    for lab, p in rows:
        confusion[str(lab.emotion)][p.emotion] += 1
    support = {t: sum(confusion[t].values()) for t in labelled}
    return {
        "n": len(rows),
        "accuracy": _share(sum(confusion[t][t] for t in labelled), len(rows)),
        "happy_share": {t: _share(confusion[t]["HAPPY"], support[t]) for t in labelled},
        "recall": {t: _share(confusion[t][t], support[t]) for t in labelled},
        "support": support,
        "confusion": confusion,
    }


def population(records: Sequence[Record]) -> str:
    """Who the figures hold for, in words: faces per set, children among them."""
    sets = _count_by(r.label.dataset for r in records)
    children = sum(1 for r in records if r.label.age_bin is not None and r.label.age_bin[0] < 20)
    return (
        f"{len(records)} held-out faces ("
        + ", ".join(f"{k} {v}" for k, v in sets.items())
        + f"): mostly adults; {children} children and teenagers (FairFace bins 0-2, 3-9, 10-19)"
    )


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures a validation block keeps (the stats report quotes them)."""
    b, x, u, sd, g, e = (report[k] for k in ("age_binned", "age_exact", "age_upper", "age_sd", "gender", "emotion"))
    return {
        "faces": {k: report["faces"][k] for k in ("labelled", "matched")},
        "age_binned": {"n": b["n"], "right_bin": b["right_bin"]}
        | {"signed_error_to_bin": {k: v["signed_error_to_bin"] for k, v in b["bins"].items()}},
        "age_exact": {k: x[k] for k in ("n", "mae", "mean_signed_error", "within_5_years")},
        "age_upper": {"n": u["n"]}
        | {"mean_error_to_upper_bound": {k: v["mean_error_to_upper_bound"] for k, v in u["decades"].items()}},
        "age_sd": {k: sd[k] for k in ("n", "coverage_90")},
        "gender": {k: g[k] for k in ("n", "coverage", "accuracy_where_written", "group_gap_points")}
        | {"estimated_13_plus": g["estimated_13_plus"], "bins": g["bins"]},
        "emotion": {"n": e["n"], "happy_share": e["happy_share"]},
    }
