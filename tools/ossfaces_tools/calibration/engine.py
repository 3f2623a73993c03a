"""The real engine over labelled photos, its raw outputs kept, and cached per engine build.

:func:`run_engine` runs ``FaceAnalyzer.analyze`` on each photo's bytes (decoding and detection included) and keeps
what the networks said about the labelled face before calibration (:class:`RawFace`): the age network's
distribution, the gender network's answer, the emotion probabilities and the 128-d SFace embedding. Any calibration
is then applied through the engine's own ``Calibration.face_fields``, so one engine run gives the figures of every
calibration, and the fitter works on the very numbers the engine would calibrate.

The run is the costly part (about 1,600 photos; CPU-bound). :class:`RawCache` keeps its outputs under a key of the
engine build (:func:`engine_key`: the engine version without its calibration part, the engine's source files and
the inference libraries): a refit, or a new evaluation, on the same build reads them back; a new build reruns.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ossfaces.errors import BadImage
from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces.vision.calibration import Calibration, identity_document
from ossfaces_tools.calibration.labels import LabelledFace

VISION_DIR = Path(__file__).resolve().parents[3] / "function" / "ossfaces" / "vision"
RUNTIME_LIBRARIES = ("numpy", "opencv-python-headless", "onnxruntime", "pillow")


@dataclass(frozen=True)
class RawFace:
    """What the networks said about one face, before calibration (the inputs of ``Calibration.face_fields``)."""

    age_probs: tuple[float, ...]
    gender: str
    gender_confidence: float
    emotions: dict[str, float]
    embedding: tuple[float, ...] | None = None
    """The L2-normalised SFace vector, or None where the engine writes no embedding (face too small or blurred)."""


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
        return cls(LabelledFace(**lab), raw_from_json(d.get("raw")), int(d["faces_found"]))


def raw_from_json(raw: Mapping[str, Any] | None) -> RawFace | None:
    if raw is None:
        return None
    emb = raw.get("embedding")
    return RawFace(
        tuple(float(v) for v in raw["age_probs"]),
        str(raw["gender"]),
        float(raw["gender_confidence"]),
        {k: float(v) for k, v in raw["emotions"].items()},
        None if emb is None else tuple(float(v) for v in emb),
    )


def save_records(records: Iterable[Record], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")


def load_records(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as fh:
        return [Record.from_json(json.loads(line)) for line in fh if line.strip()]


@dataclass(frozen=True)
class _Recording(Calibration):
    """A calibration that also keeps the raw inputs of every face it is asked about, in the engine's order."""

    seen: list[RawFace] = field(default_factory=list, compare=False)

    def face_fields(
        self,
        age_probs: Any,
        gender: str,
        gender_confidence: float,
        emotions: Mapping[str, float],
        embedding: Any = None,
    ) -> dict[str, Any]:
        self.seen.append(
            RawFace(
                tuple(float(p) for p in list(age_probs)),
                gender,
                float(gender_confidence),
                {k: float(emotions[k]) for k in IMM_EMOTIONS},
            )
        )
        return super().face_fields(age_probs, gender, gender_confidence, emotions)


def matched_index(faces: Sequence[Mapping[str, Any]], label: LabelledFace, width: int, height: int) -> int | None:
    """The labelled face: the largest face containing ``label.point``; the face nearest the centre for
    ``label.centre``; else the largest face."""

    def box(i: int) -> tuple[float, float, float, float]:
        b = faces[i]["FaceAttributes"]["FaceBoundary"]
        return float(b["Left"]), float(b["Top"]), float(b["Width"]), float(b["Height"])

    def area(i: int) -> float:
        return box(i)[2] * box(i)[3]

    candidates = list(range(len(faces)))
    if not candidates:
        return None
    if label.centre:
        cx, cy = width / 2, height / 2
        return min(
            candidates, key=lambda i: (box(i)[0] + box(i)[2] / 2 - cx) ** 2 + (box(i)[1] + box(i)[3] / 2 - cy) ** 2
        )
    if label.point is not None:
        px, py = label.point
        candidates = [
            i
            for i in candidates
            if box(i)[0] <= px <= box(i)[0] + box(i)[2] and box(i)[1] <= py <= box(i)[1] + box(i)[3]
        ]
    return max(candidates, key=area) if candidates else None


class Engine:
    """The real engine loaded once, answering with raw outputs (:meth:`raw`)."""

    def __init__(self, threads: int | None = 1) -> None:
        from ossfaces.vision import FaceAnalyzer

        base = Calibration.from_document(identity_document())
        self._recording = _Recording(age=base.age, gender=base.gender, emotion=base.emotion, document=base.document)
        self.analyzer = FaceAnalyzer.load(threads=threads, calibration=self._recording)
        self.key = engine_key(self.analyzer.version)

    def raw(self, label: LabelledFace, data: bytes) -> tuple[RawFace | None, int]:
        """(raw outputs of the labelled face or None, number of faces found) for one photo's bytes; a photo the engine
        cannot read counts as one where no face was found (the figures count those), with a line saying so."""
        self._recording.seen.clear()
        try:
            analysis = self.analyzer.analyze(data)
        except BadImage as exc:
            print(f"  {label.path}: not analysed ({exc}); counted as no face found", file=sys.stderr)
            return None, 0
        faces = analysis.faces
        if len(self._recording.seen) != len(faces):
            raise RuntimeError("the engine's face dicts and the calibration calls do not pair up")
        index = matched_index(faces, label, analysis.image.width, analysis.image.height)
        if index is None:
            return None, len(faces)
        emb = analysis.embeddings[index]
        raw = self._recording.seen[index]
        vector = None if emb is None else tuple(round(float(v), 6) for v in np.asarray(emb).reshape(-1))
        return RawFace(raw.age_probs, raw.gender, raw.gender_confidence, raw.emotions, vector), len(faces)


def engine_key(version: str) -> str:
    """A name for the engine build: its version without the calibration part, plus a digest of the engine's source
    (``function/ossfaces/vision/*.py`` but the calibration) and the inference libraries' versions."""
    h = hashlib.sha256()
    for path in sorted(VISION_DIR.glob("*.py")):
        if path.name != "calibration.py":
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in RUNTIME_LIBRARIES:
        try:
            h.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name}: absent".encode())
    return f"{engine_version(version)}-src.{h.hexdigest()[:10]}"


def engine_version(version: str) -> str:
    """An engine version without its ``+calib.<digest>`` part: what the raw outputs depend on."""
    return re.sub(r"\+calib\.[0-9a-f]+", "", version)


class RawCache:
    """Raw outputs per engine build (:func:`engine_key`), one JSON Lines file per set, looked up by photo digest."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder / re.sub(r"[^A-Za-z0-9._-]+", "_", key)
        self.key = key

    def _file(self, name: str) -> Path:
        return self.folder / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.jsonl"

    def load(self, name: str) -> dict[str, dict[str, Any]]:
        path = self._file(name)
        if not path.exists():
            return {}
        with path.open(encoding="utf-8") as fh:
            entries = [json.loads(line) for line in fh if line.strip()]
        return {e["id"]: e for e in entries}

    def append(self, name: str, entries: Sequence[Mapping[str, Any]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._file(name).open("a", encoding="utf-8") as fh:
            for e in entries:
                fh.write(json.dumps(e, ensure_ascii=False) + "\n")


def _photo_id(label: LabelledFace, data: bytes) -> str:
    where = "centre" if label.centre else ("largest" if label.point is None else f"{label.point[0]},{label.point[1]}")
    return f"{hashlib.sha256(data).hexdigest()}:{where}"


def run_engine(
    labels: Sequence[LabelledFace],
    *,
    cache: Path | None = None,
    threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Record], str]:
    """(one :class:`Record` per label, the engine key). Photos already in ``cache`` for this build are not rerun."""
    engine = Engine(threads)
    store = RawCache(cache, engine.key) if cache is not None else None
    by_set: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_set.setdefault(label.dataset, []).append(i)
    out: list[Record | None] = [None] * len(labels)
    done = 0
    for name, indexes in by_set.items():
        known = store.load(name) if store else {}
        new = []
        for i in indexes:
            label = labels[i]
            data = label.path.read_bytes()
            pid = _photo_id(label, data)
            entry = known.get(pid)
            if entry is None:
                raw, found = engine.raw(label, data)
                entry = {
                    "id": pid,
                    "file": label.path.name,
                    "raw": None if raw is None else asdict(raw),
                    "found": found,
                }
                new.append(entry)
            out[i] = Record(label, raw_from_json(entry["raw"]), int(entry["found"]))
            done += 1
            if progress:
                progress(done, len(labels))
        if store and new:
            store.append(name, new)
    return [r for r in out if r is not None], engine.key
