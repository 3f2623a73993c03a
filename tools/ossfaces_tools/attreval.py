"""Measuring the engine's attributes against labelled faces: manifests, the engine run, the figures (issue 8).

Shared by ``benchmarks/eval_attributes.py`` (measure) and :mod:`ossfaces_tools.calibrate` (fit). Three steps:

1. :func:`read_manifest`: a CSV or JSON Lines file, one labelled face per row. Columns: ``path`` (relative to the
   manifest's folder), ``age`` (years) or ``age_bin`` (``20-29``, ``70+``, FairFace's ``more than 70``), ``gender``,
   ``group`` (e.g. a skin-tone or race label, reported as given), ``emotion``, ``licence``, ``split``, optionally
   ``dataset`` and ``x``/``y`` (a point inside the labelled face; without it the largest face is the labelled one).
   Empty cells mean "not labelled".
2. :func:`run_engine`: the real engine on the real file bytes (``FaceAnalyzer.analyze``: decoding and detection
   included). What the networks said about the matched face is kept raw (:class:`RawFace`), so any calibration can
   be applied afterwards through the very function the engine uses (``Calibration.face_fields``): one run gives the
   figures before and after calibration, and the fitter works on the same numbers.
3. :func:`evaluate` and :func:`render`: the figures as a JSON-able dict and as text tables.

No figure means anything without data whose licence allows the use: :func:`licence_allowed` is the allow-list the
fitter and ``--write-metadata`` enforce (measurement alone may run on anything the owner may look at).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces.vision.calibration import Calibration

GENDERS = ("FEMALE", "MALE")
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-12", 0, 12),
    ("13-19", 13, 19),
    ("20-39", 20, 39),
    ("40-59", 40, 59),
    ("60+", 60, None),
)
"""Bands for exact ages (issue 8)."""
BIN_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-9", 0, 9),
    ("10-19", 10, 19),
    ("20-39", 20, 39),
    ("40-59", 40, 59),
    ("60+", 60, None),
)
"""Bands for binned ages (FairFace's bins 0-2, 3-9, 10-19 … do not split at 13); a bin goes by its lower bound."""
OPEN_BIN_HALF = 7.0
"""An open bin (``70+``) has no midpoint; its signed error is measured against lower bound + 7 years (an assumption)."""
OPEN_BIN_TOP = 100.0
"""Upper end assumed for an open bin when fitting on intervals."""
RELIABILITY_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
EMOTION_ALIASES = {
    "angry": "ANGRY",
    "anger": "ANGRY",
    "neutral": "CALM",
    "calm": "CALM",
    "disgust": "DISGUSTED",
    "disgusted": "DISGUSTED",
    "happy": "HAPPY",
    "happiness": "HAPPY",
    "sad": "SAD",
    "sadness": "SAD",
    "fear": "SCARED",
    "fearful": "SCARED",
    "scared": "SCARED",
    "surprise": "SURPRISED",
    "surprised": "SURPRISED",
}
GENDER_ALIASES = {"f": "FEMALE", "female": "FEMALE", "woman": "FEMALE", "m": "MALE", "male": "MALE", "man": "MALE"}
_ALLOWED = re.compile(
    r"(CC0(-1\.0)?|PDM(-1\.0)?|PUBLIC-DOMAIN|CC-BY(-SA)?(-\d(\.\d)?)?|MIT|APACHE-2\.0)", flags=re.IGNORECASE
)
ALLOWED_LICENCES = "CC0-1.0, PDM-1.0 / public-domain, CC-BY-<v>, CC-BY-SA-<v>, MIT, Apache-2.0"
"""What shipped numbers may be fitted on and validated with. Anything NC, ND, research-only or unknown is refused."""


class ManifestError(ValueError):
    """A manifest row that cannot be read; the message names the file and the row."""


class LicenceRefused(ValueError):
    """The data's licence does not allow fitting or publishing the product's numbers with it."""


def licence_allowed(licence: str) -> bool:
    """True for the allow-list :data:`ALLOWED_LICENCES` (SPDX-like spellings, spaces or underscores as dashes)."""
    text = re.sub(r"[\s_]+", "-", licence.strip())
    return bool(_ALLOWED.fullmatch(text))


def require_allowed(faces: Iterable[LabelledFace], purpose: str) -> None:
    """``LicenceRefused`` naming every licence off the allow-list among ``faces``."""
    refused = sorted({f.licence or "(none)" for f in faces if not licence_allowed(f.licence)})
    if refused:
        raise LicenceRefused(
            f"refusing to {purpose}: licence {', '.join(repr(x) for x in refused)} is not in the allow-list"
            f" ({ALLOWED_LICENCES}). Research-only or non-commercial data must never fit or validate a shipped number."
        )


@dataclass(frozen=True)
class LabelledFace:
    """One manifest row. ``age_bin`` is (low, high) inclusive, high ``None`` for an open bin like ``70+``."""

    path: Path
    licence: str
    split: str = ""
    dataset: str = ""
    age: float | None = None
    age_bin: tuple[int, int | None] | None = None
    gender: str | None = None
    group: str | None = None
    emotion: str | None = None
    point: tuple[float, float] | None = None

    @property
    def age_interval(self) -> tuple[float, float] | None:
        """The labelled age as an interval (a point for exact ages)."""
        if self.age is not None:
            return self.age, self.age
        if self.age_bin is not None:
            low, high = self.age_bin
            return float(low), OPEN_BIN_TOP if high is None else float(high) + 0.999
        return None


def parse_age_bin(text: str) -> tuple[int, int | None]:
    """``20-29`` → (20, 29); ``70+`` and ``more than 70`` → (70, None)."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", t)
    if m and int(m.group(1)) <= int(m.group(2)):
        return int(m.group(1)), int(m.group(2))
    m = re.fullmatch(r"(\d+)\s*\+|more than (\d+)", t)
    if m:
        return int(m.group(1) or m.group(2)), None
    raise ValueError(f"not an age bin: {text!r}")


def _cell(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _row(row: Mapping[str, Any], base: Path, default_dataset: str) -> LabelledFace:
    path = _cell(row, "path")
    if not path:
        raise ValueError("no path")
    age_text, bin_text = _cell(row, "age"), _cell(row, "age_bin")
    gender_text, emotion_text = _cell(row, "gender").lower(), _cell(row, "emotion").lower()
    if gender_text and gender_text not in GENDER_ALIASES:
        raise ValueError(f"gender {gender_text!r} is not one of {sorted(GENDER_ALIASES)}")
    if emotion_text and emotion_text.upper() not in IMM_EMOTIONS and emotion_text not in EMOTION_ALIASES:
        raise ValueError(f"emotion {emotion_text!r} is not an IMM name or one of {sorted(EMOTION_ALIASES)}")
    x, y = _cell(row, "x"), _cell(row, "y")
    return LabelledFace(
        path=base / path,
        licence=_cell(row, "licence") or _cell(row, "license"),
        split=_cell(row, "split"),
        dataset=_cell(row, "dataset") or default_dataset,
        age=float(age_text) if age_text else None,
        age_bin=parse_age_bin(bin_text) if bin_text and not age_text else None,
        gender=GENDER_ALIASES[gender_text] if gender_text else None,
        group=_cell(row, "group") or None,
        emotion=(EMOTION_ALIASES.get(emotion_text) or emotion_text.upper()) if emotion_text else None,
        point=(float(x), float(y)) if x and y else None,
    )


def read_manifest(path: Path) -> list[LabelledFace]:
    """Every labelled face of a ``.csv`` or ``.jsonl`` manifest; ``ManifestError`` naming the row that is wrong."""
    base = path.parent
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() in (".jsonl", ".json"):
            rows = [json.loads(line) for line in fh if line.strip()]
        else:
            rows = list(csv.DictReader(fh))
    out = []
    for number, row in enumerate(rows, start=1):
        try:
            out.append(_row(row, base, path.stem))
        except (ValueError, TypeError) as exc:
            raise ManifestError(f"{path}, row {number}: {exc}") from exc
    return out


@dataclass(frozen=True)
class RawFace:
    """What the networks said about one face, before calibration (inputs of ``Calibration.face_fields``)."""

    age_probs: tuple[float, ...]
    gender: str
    gender_confidence: float
    emotions: dict[str, float]


@dataclass(frozen=True)
class Record:
    """One labelled face and the engine's raw answer for it (``raw`` is None when no face was found)."""

    label: LabelledFace
    raw: RawFace | None
    faces_found: int

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["label"]["path"] = str(self.label.path)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Record:
        lab = dict(d["label"])
        lab["path"] = Path(lab["path"])
        for key in ("age_bin", "point"):
            if lab.get(key) is not None:
                lab[key] = tuple(lab[key])
        raw = d.get("raw")
        return cls(
            LabelledFace(**lab),
            None
            if raw is None
            else RawFace(tuple(raw["age_probs"]), raw["gender"], raw["gender_confidence"], raw["emotions"]),
            int(d["faces_found"]),
        )


@dataclass(frozen=True)
class _Recording(Calibration):
    """A calibration that also keeps the raw inputs of every face it is asked about, in the engine's order."""

    seen: list[RawFace] = field(default_factory=list, compare=False)

    def face_fields(
        self, age_probs: Any, gender: str, gender_confidence: float, emotions: Mapping[str, float]
    ) -> dict[str, Any]:
        probs = tuple(float(p) for p in list(age_probs))
        self.seen.append(
            RawFace(probs, gender, float(gender_confidence), {k: float(emotions[k]) for k in IMM_EMOTIONS})
        )
        return super().face_fields(age_probs, gender, gender_confidence, emotions)


def _matched_index(faces: Sequence[Mapping[str, Any]], point: tuple[float, float] | None) -> int | None:
    """The labelled face: the largest face containing ``point`` if given, else the largest face."""

    def area(i: int) -> int:
        b = faces[i]["FaceAttributes"]["FaceBoundary"]
        return int(b["Width"]) * int(b["Height"])

    candidates = list(range(len(faces)))
    if point is not None:
        px, py = point
        candidates = [
            i
            for i in candidates
            if (b := faces[i]["FaceAttributes"]["FaceBoundary"])["Left"] <= px <= b["Left"] + b["Width"]
            and b["Top"] <= py <= b["Top"] + b["Height"]
        ]
    return max(candidates, key=area) if candidates else None


def run_engine(
    labels: Sequence[LabelledFace], *, threads: int | None = 1, progress: Callable[[int, int], None] | None = None
) -> list[Record]:
    """The real engine (decode, detect, attributes) on each labelled photo's bytes; one :class:`Record` per row."""
    from ossfaces.vision import FaceAnalyzer
    from ossfaces.vision.calibration import identity_document

    base = Calibration.from_document(identity_document())
    recording = _Recording(base.age, base.gender, base.emotion, base.document)
    analyzer = FaceAnalyzer.load(threads=threads, calibration=recording)
    out = []
    for n, label in enumerate(labels, start=1):
        recording.seen.clear()
        faces = analyzer.analyze(label.path.read_bytes()).faces
        if len(recording.seen) != len(faces):
            raise RuntimeError("the engine's face dicts and the calibration calls do not pair up")
        index = _matched_index(faces, label.point)
        out.append(Record(label, None if index is None else recording.seen[index], len(faces)))
        if progress:
            progress(n, len(labels))
    return out


def save_records(records: Iterable[Record], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")


def load_records(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as fh:
        return [Record.from_json(json.loads(line)) for line in fh if line.strip()]


@dataclass(frozen=True)
class Prediction:
    """The document fields one calibration writes for a record (what a user would read)."""

    age: int
    age_sd: float
    gender: str | None
    gender_confidence: float | None
    emotion: str


def predict(raw: RawFace, calibration: Calibration) -> Prediction:
    f = calibration.face_fields(raw.age_probs, raw.gender, raw.gender_confidence, raw.emotions)
    return Prediction(f["Age"], f["AgeSD"], f.get("Gender"), f.get("GenderConfidence"), f["Emotion"])


def band_of(label: LabelledFace) -> str | None:
    """The label's band: exact ages by :data:`AGE_BANDS`, bins by their lower bound in :data:`BIN_BANDS`."""
    if label.age is not None:
        value, bands = label.age, AGE_BANDS
    elif label.age_bin is not None:
        value, bands = float(label.age_bin[0]), BIN_BANDS
    else:
        return None
    for name, low, high in bands:
        if value >= low and (high is None or value < high + 1):
            return name
    return None


def bin_midpoint(age_bin: tuple[int, int | None]) -> float:
    low, high = age_bin
    return low + OPEN_BIN_HALF if high is None else (low + high + 1) / 2


def _share(k: int, n: int) -> float | None:
    return None if n == 0 else k / n


def _mean(values: Sequence[float]) -> float | None:
    return None if not values else sum(values) / len(values)


def evaluate(records: Sequence[Record], calibration: Calibration) -> dict[str, Any]:
    """Every figure of issue 8 for ``records`` under ``calibration``, as a JSON-able dict (``None``: no data)."""
    matched = [(r, predict(r.raw, calibration)) for r in records if r.raw is not None]
    report: dict[str, Any] = {
        "faces": {"labelled": len(records), "matched": len(matched), "no_face_found": len(records) - len(matched)},
        "age_exact": _age_exact([(r.label, p) for r, p in matched if r.label.age is not None]),
        "age_binned": _age_binned([(r.label, p) for r, p in matched if r.label.age is None and r.label.age_bin]),
        "gender": _gender([(r.label, p) for r, p in matched if r.label.gender]),
        "emotion": _emotion([(r.label, p) for r, p in matched if r.label.emotion]),
    }
    return report


def _age_exact(rows: list[tuple[LabelledFace, Prediction]]) -> dict[str, Any]:
    errors = [p.age - float(lab.age or 0) for lab, p in rows]
    bands: dict[str, Any] = {}
    for name, _, _ in AGE_BANDS:
        e = [err for (lab, _), err in zip(rows, errors, strict=True) if band_of(lab) == name]
        bands[name] = {"n": len(e), "mean_signed_error": _mean(e), "mae": _mean([abs(x) for x in e])}
    return {
        "n": len(rows),
        "mae": _mean([abs(e) for e in errors]),
        "mean_signed_error": _mean(errors),
        "within_5_years": _share(sum(abs(e) <= 5 for e in errors), len(errors)),
        "mean_age_sd": _mean([p.age_sd for _, p in rows]),
        "bands": bands,
    }


def _bin_index(age: float, bins: Sequence[tuple[int, int | None]]) -> int | None:
    for i, (low, high) in enumerate(bins):
        if age >= low and (high is None or age < high + 1):
            return i
    return None


def _age_binned(rows: list[tuple[LabelledFace, Prediction]]) -> dict[str, Any]:
    bins = sorted({lab.age_bin for lab, _ in rows if lab.age_bin is not None}, key=lambda b: b[0])
    hits = near = 0
    errors: list[float] = []
    for lab, p in rows:
        assert lab.age_bin is not None
        true_i = bins.index(lab.age_bin)
        pred_i = _bin_index(p.age, bins)
        hits += pred_i == true_i
        near += pred_i is not None and abs(pred_i - true_i) <= 1
        errors.append(p.age - bin_midpoint(lab.age_bin))
    bands: dict[str, Any] = {}
    for name, _, _ in BIN_BANDS:
        e = [err for (lab, _), err in zip(rows, errors, strict=True) if band_of(lab) == name]
        bands[name] = {
            "n": len(e),
            "mean_signed_error_vs_midpoint": _mean(e),
            "mae_vs_midpoint": _mean([abs(x) for x in e]),
        }
    return {
        "n": len(rows),
        "bins": [f"{lo}+" if hi is None else f"{lo}-{hi}" for lo, hi in bins],
        "bin_accuracy": _share(hits, len(rows)),
        "within_one_bin": _share(near, len(rows)),
        "mae_vs_midpoint": _mean([abs(e) for e in errors]),
        "mean_signed_error_vs_midpoint": _mean(errors),
        "open_bin_midpoint": f"lower bound + {OPEN_BIN_HALF:g} years (assumed)",
        "bands": bands,
    }


def _gender_cell(rows: list[tuple[LabelledFace, Prediction]]) -> dict[str, Any]:
    written = [(lab, p) for lab, p in rows if p.gender is not None]
    right = sum(p.gender == lab.gender for lab, p in written)
    return {
        "n": len(rows),
        "written": len(written),
        "coverage": _share(len(written), len(rows)),
        "accuracy_where_written": _share(right, len(written)),
    }


def _gender(rows: list[tuple[LabelledFace, Prediction]]) -> dict[str, Any]:
    by_band: dict[str, list[tuple[LabelledFace, Prediction]]] = defaultdict(list)
    by_group: dict[str, list[tuple[LabelledFace, Prediction]]] = defaultdict(list)
    for lab, p in rows:
        by_band[band_of(lab) or "(no age label)"].append((lab, p))
        by_group[lab.group or "(no group label)"].append((lab, p))
    order = list(dict.fromkeys(name for name, _, _ in (*AGE_BANDS, *BIN_BANDS)))
    bands = {name: _gender_cell(by_band[name]) for name in [*order, "(no age label)"] if by_band.get(name)}
    groups = {name: _gender_cell(by_group[name]) for name in sorted(by_group)}
    accs = [g["accuracy_where_written"] for g in groups.values() if g["accuracy_where_written"] is not None]
    recall = {
        g: _share(
            sum(p.gender == g for lab, p in rows if lab.gender == g and p.gender),
            sum(1 for lab, p in rows if lab.gender == g and p.gender),
        )
        for g in GENDERS
    }
    reliability = []
    written = [(lab, p) for lab, p in rows if p.gender is not None and p.gender_confidence is not None]
    for low, high in pairwise(RELIABILITY_EDGES):
        last = high == RELIABILITY_EDGES[-1]
        cell = [
            (lab, p)
            for lab, p in written
            if p.gender_confidence is not None
            and low <= p.gender_confidence
            and (p.gender_confidence < high or (last and p.gender_confidence <= high))
        ]
        reliability.append(
            {
                "confidence": f"{low:.2f}-{high:.2f}",
                "n": len(cell),
                "mean_confidence": _mean([float(p.gender_confidence or 0) for _, p in cell]),
                "accuracy": _share(sum(p.gender == lab.gender for lab, p in cell), len(cell)),
            }
        )
    return {
        **_gender_cell(rows),
        "recall_where_written": recall,
        "bands": bands,
        "groups": groups,
        "group_gap_points": None if len(accs) < 2 else 100 * (max(accs) - min(accs)),
        "reliability": reliability,
    }


def _emotion(rows: list[tuple[LabelledFace, Prediction]]) -> dict[str, Any]:
    confusion = {t: dict.fromkeys(IMM_EMOTIONS, 0) for t in IMM_EMOTIONS}
    for lab, p in rows:
        confusion[str(lab.emotion)][p.emotion] += 1
    support = {t: sum(confusion[t].values()) for t in IMM_EMOTIONS}
    recall = {t: _share(confusion[t][t], support[t]) for t in IMM_EMOTIONS}
    present = [r for r in recall.values() if r is not None]
    return {
        "n": len(rows),
        "accuracy": _share(sum(confusion[t][t] for t in IMM_EMOTIONS), len(rows)),
        "mean_recall": _mean(present),
        "support": support,
        "recall": recall,
        "confusion": confusion,
    }


# --- text rendering -----------------------------------------------------------------------------------------------


def _f(value: Any, kind: str = "num") -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{100 * float(value):.1f}%"
    if kind == "signed":
        return f"{float(value):+.2f}"
    return f"{float(value):.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render(report: Mapping[str, Any], title: str) -> str:
    """Text tables of :func:`evaluate`'s dict: what ``benchmarks/eval_attributes.py`` prints."""
    out = [f"== {title}", ""]
    c = report["faces"]
    out.append(f"faces: {c['labelled']} labelled, {c['matched']} matched, {c['no_face_found']} without a detected face")
    a = report["age_exact"]
    out += ["", f"-- age (exact labels): n={a['n']}"]
    if a["n"]:
        out.append(
            f"MAE {_f(a['mae'])} y, mean signed error {_f(a['mean_signed_error'], 'signed')} y, within 5 years "
            f"{_f(a['within_5_years'], 'pct')}, mean AgeSD {_f(a['mean_age_sd'])} y"
        )
        rows = [[b, str(v["n"]), _f(v["mean_signed_error"], "signed"), _f(v["mae"])] for b, v in a["bands"].items()]
        out += _table(["band", "n", "mean signed", "MAE"], rows)
    b = report["age_binned"]
    out += ["", f"-- age (binned labels): n={b['n']}"]
    if b["n"]:
        out.append(
            f"bin accuracy {_f(b['bin_accuracy'], 'pct')}, within one bin {_f(b['within_one_bin'], 'pct')}, MAE vs bin "
            f"midpoint {_f(b['mae_vs_midpoint'])} y, mean signed {_f(b['mean_signed_error_vs_midpoint'], 'signed')} y "
            f"(open bin: {b['open_bin_midpoint']})"
        )
        rows = [
            [k, str(v["n"]), _f(v["mean_signed_error_vs_midpoint"], "signed"), _f(v["mae_vs_midpoint"])]
            for k, v in b["bands"].items()
        ]
        out += _table(["band", "n", "signed vs mid", "MAE vs mid"], rows)
    g = report["gender"]
    out += ["", f"-- gender: n={g['n']}"]
    if g["n"]:
        rec = g["recall_where_written"]
        out.append(
            f"written {g['written']} (coverage {_f(g['coverage'], 'pct')}), accuracy where written "
            f"{_f(g['accuracy_where_written'], 'pct')}; recall FEMALE {_f(rec['FEMALE'], 'pct')}, MALE "
            f"{_f(rec['MALE'], 'pct')}; best-worst group gap {_f(g['group_gap_points'])} points"
        )
        for what, cells in (("band", g["bands"]), ("group", g["groups"])):
            rows = [
                [k, str(v["n"]), str(v["written"]), _f(v["coverage"], "pct"), _f(v["accuracy_where_written"], "pct")]
                for k, v in cells.items()
            ]
            out += ["", *_table([what, "n", "written", "coverage", "accuracy"], rows)]
        rows = [
            [r["confidence"], str(r["n"]), _f(r["mean_confidence"]), _f(r["accuracy"], "pct")] for r in g["reliability"]
        ]
        out += ["", "reliability (faces where written):", *_table(["confidence", "n", "mean conf", "accuracy"], rows)]
    e = report["emotion"]
    out += ["", f"-- emotion: n={e['n']}"]
    if e["n"]:
        out.append(
            f"accuracy {_f(e['accuracy'], 'pct')}, mean per-class recall {_f(e['mean_recall'], 'pct')} (over labelled classes)"
        )
        rows = [[t, str(e["support"][t]), _f(e["recall"][t], "pct")] for t in IMM_EMOTIONS]
        out += _table(["class", "n", "recall"], rows)
        short = [t[:4] for t in IMM_EMOTIONS]
        rows = [[t, *(str(e["confusion"][t][p]) for p in IMM_EMOTIONS)] for t in IMM_EMOTIONS]
        out += ["", "confusion (rows: label, columns: engine):", *_table(["label", *short], rows)]
    return "\n".join(out) + "\n"


def summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures a validation block keeps (the stats report quotes them)."""
    a, b, g, e = report["age_exact"], report["age_binned"], report["gender"], report["emotion"]
    return {
        "faces": report["faces"],
        "age_exact": {k: a[k] for k in ("n", "mae", "mean_signed_error", "within_5_years")}
        | {"mean_signed_error_by_band": {k: v["mean_signed_error"] for k, v in a["bands"].items()}},
        "age_binned": {k: b[k] for k in ("n", "bin_accuracy", "within_one_bin", "mae_vs_midpoint")}
        | {"mean_signed_error_by_band": {k: v["mean_signed_error_vs_midpoint"] for k, v in b["bands"].items()}},
        "gender": (
            {k: g[k] for k in ("n", "coverage", "accuracy_where_written", "group_gap_points")} | {"by_band": g["bands"]}
            if g["n"]
            else {"n": 0}
        ),
        "emotion": {k: e[k] for k in ("n", "accuracy", "mean_recall")},
    }


__all__ = [
    "ALLOWED_LICENCES",
    "LabelledFace",
    "LicenceRefused",
    "ManifestError",
    "RawFace",
    "Record",
    "evaluate",
    "licence_allowed",
    "load_records",
    "read_manifest",
    "render",
    "require_allowed",
    "run_engine",
    "save_records",
    "summary",
]
