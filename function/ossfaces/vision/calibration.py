"""What the engine writes for age, gender and emotion, from what the networks say: the shipped calibration.

The networks' raw outputs (the age network's 81-class distribution, the gender softmax, the emotion softmax, the SFace
embedding) become the document's ``Age``, ``AgeSD``, ``Gender``, ``GenderConfidence``, ``Emotion``,
``EmotionConfidence`` and ``EmotionDetails`` through the parameters in ``calibration.json`` beside this module
(docs/design.md "Engines"; docs/calibration.md: how they were fitted and what they achieve on held-out faces). Each
fitted block names the data it was fitted on (``fitted_on``); ``ossfaces_tools.calibration`` fits them.

- **Age**: ``Age = round(m(E))`` where ``E`` is the expectation of the age network's distribution (class ages 0.25,
  1, …, 80, as in :mod:`ossfaces.vision.attributes`) and ``m`` a monotone piecewise-linear map given by knots
  (identity when not fitted; clamped to the first and last knot outside their range).
- **AgeSD**: ``s`` = the standard deviation of the age network's own distribution after the map (``m(class age)``
  under the class probabilities). Without a spread model ``AgeSD = s``; with one (``age.sd_model``)
  ``AgeSD = exp(a + b·ln(s + 0.5) + c·Age/50)``, fitted so that the true age lies within ``Age ± 1.645 AgeSD`` for
  about 90 % of faces.
- **Gender**: the gender network's probability of MALE, ``q``, or, with a head (``gender.head``), a logistic model
  ``P(MALE) = σ(bias + w·logit(q) + v·embedding)`` over what the networks already computed (the fallback without
  ``v`` for faces without an embedding). Written (``Gender``, ``GenderConfidence`` = the winning probability) only
  when the written ``Age`` is at least ``min_age`` and the confidence reaches the ``min_confidence`` of the
  estimated age's band; otherwise both fields are absent (stats count the face as UNKNOWN). A ``min_confidence`` of
  ``null`` means the band never writes a gender.
- **Emotion**: ``p' = softmax(log(p) / T + b)`` with a temperature ``T`` and per-class log-priors ``b`` (``T = 1``,
  ``b = 0`` is the identity); ``EmotionDetails`` still sums to 1, ``Emotion`` is its largest class.

The engine version carries :attr:`Calibration.digest`, a digest of the parameters that change a result (``age``,
``gender``, ``emotion``), so a document made under another calibration is stale and gets re-processed. The
``validation`` block (what the stats report quotes) and the ``data`` block (the data sets' licences and attributions,
from which NOTICE is generated) describe a calibration and do not change results: they are not part of the digest.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ossfaces.errors import ConfigError
from ossfaces.vision.attributes import AGE_WEIGHTS, IMM_EMOTIONS

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FORMAT = 2
PARAMETER_BLOCKS = ("age", "gender", "emotion")
"""The blocks whose content changes what the engine writes; their digest joins the engine version."""
_PROB_FLOOR = 1e-12


@dataclass(frozen=True)
class AgeMap:
    """Monotone piecewise-linear map of the raw expected age: strictly increasing ``xs``, non-decreasing ``ys``."""

    xs: tuple[float, ...] = (0.0, 100.0)
    ys: tuple[float, ...] = (0.0, 100.0)

    def __post_init__(self) -> None:
        if len(self.xs) != len(self.ys) or len(self.xs) < 2:
            raise ValueError("an age map needs at least two knots, as many x as y")
        if any(not math.isfinite(v) for v in (*self.xs, *self.ys)):
            raise ValueError("age map knots must be finite numbers")
        if any(b <= a for a, b in pairwise(self.xs)):
            raise ValueError("age map knots: x must be strictly increasing")
        if any(b < a for a, b in pairwise(self.ys)):
            raise ValueError("age map knots: y must be non-decreasing (the map is monotone)")

    @classmethod
    def from_knots(cls, knots: Sequence[Sequence[float]]) -> AgeMap:
        return cls(tuple(float(k[0]) for k in knots), tuple(float(k[1]) for k in knots))

    @property
    def knots(self) -> list[list[float]]:
        return [[x, y] for x, y in zip(self.xs, self.ys, strict=True)]

    @property
    def is_identity(self) -> bool:
        return all(abs(x - y) < 1e-9 for x, y in zip(self.xs, self.ys, strict=True))

    def __call__(self, age: ArrayLike) -> NDArray[np.float64]:
        return np.interp(np.asarray(age, dtype=np.float64), self.xs, self.ys)


SPREAD_OFFSET = 0.5
"""Years added to the network's own spread before its logarithm (a face with a one-hot distribution still has an
AgeSD)."""


@dataclass(frozen=True)
class AgeSpread:
    """``AgeSD = exp(log_scale + spread_power · ln(s + 0.5) + per_50_years · Age / 50)``; ``s`` the network's spread."""

    log_scale: float
    spread_power: float
    per_50_years: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.log_scale, self.spread_power, self.per_50_years)):
            raise ValueError("age sd_model parameters must be finite numbers")

    def __call__(self, spread: float, age: float) -> float:
        exponent = self.log_scale + self.spread_power * math.log(spread + SPREAD_OFFSET) + self.per_50_years * age / 50
        return math.exp(min(exponent, 6.0))


LOGIT_CLIP = 12.0
"""The gender network's logit is clipped to +-12 (probabilities 6e-6 from 0 or 1) before the head reads it."""


@dataclass(frozen=True)
class GenderHead:
    """``P(MALE) = σ(bias + net_logit · logit(q) + embedding · e)``; ``e`` the face's L2-normalised SFace vector.

    ``fallback`` (bias, net_logit) is the same model without the embedding, for faces that have none.
    """

    bias: float
    net_logit: float
    embedding: tuple[float, ...]
    fallback: tuple[float, float]

    def __post_init__(self) -> None:
        values = (self.bias, self.net_logit, *self.embedding, *self.fallback)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("gender head coefficients must be finite numbers")

    def p_male(self, q_male: float, embedding: ArrayLike | None) -> float:
        q = min(max(float(q_male), 1e-12), 1 - 1e-12)
        z = min(max(math.log(q / (1 - q)), -LOGIT_CLIP), LOGIT_CLIP)
        if embedding is None or not self.embedding:
            s = self.fallback[0] + self.fallback[1] * z
        else:
            e = np.asarray(embedding, dtype=np.float64).reshape(-1)
            if e.shape[0] != len(self.embedding):
                raise ValueError(f"the gender head reads {len(self.embedding)}-d embeddings, got {e.shape[0]}")
            s = self.bias + self.net_logit * z + float(np.dot(self._weights, e))
        return 1.0 / (1.0 + math.exp(-s))

    @cached_property
    def _weights(self) -> NDArray[np.float64]:
        return np.asarray(self.embedding, dtype=np.float64)


@dataclass(frozen=True)
class GenderRule:
    """When a gender is written: estimated age ≥ ``min_age`` and confidence ≥ the band's ``min_confidence``.

    ``bands`` are ``(from_age, min_confidence)`` pairs sorted by ``from_age``; a band runs up to the next one's
    ``from_age``. ``None`` as ``min_confidence``: never write a gender in that band.
    """

    min_age: float = 0.0
    bands: tuple[tuple[float, float | None], ...] = ((0.0, 0.5),)

    def __post_init__(self) -> None:
        if not self.bands or any(b[0] <= a[0] for a, b in pairwise(self.bands)):
            raise ValueError("gender bands must be non-empty and sorted by strictly increasing from_age")
        for _, threshold in self.bands:
            if threshold is not None and not 0.0 <= threshold <= 1.0:
                raise ValueError(f"gender min_confidence must lie in [0, 1] or be null, got {threshold}")

    def threshold(self, age: float) -> float | None:
        """The band's minimum confidence for an estimated age; ``None`` when no gender is written at that age."""
        if age < self.min_age:
            return None
        chosen: float | None = None
        found = False
        for start, threshold in self.bands:
            if age >= start:
                chosen, found = threshold, True
        return chosen if found else None

    def writes(self, age: float, confidence: float) -> bool:
        threshold = self.threshold(age)
        return threshold is not None and confidence >= threshold


@dataclass(frozen=True)
class EmotionCalibration:
    """``softmax(log p / temperature + log_priors)`` over IMM's seven names; identity when T = 1 and priors are 0."""

    temperature: float = 1.0
    log_priors: tuple[float, ...] = (0.0,) * len(IMM_EMOTIONS)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"emotion temperature must be a positive number, got {self.temperature}")
        if len(self.log_priors) != len(IMM_EMOTIONS) or not all(math.isfinite(b) for b in self.log_priors):
            raise ValueError(f"emotion log_priors needs one finite number per class {IMM_EMOTIONS}")

    @property
    def is_identity(self) -> bool:
        return self.temperature == 1.0 and not any(self.log_priors)

    def probabilities(self, probs: NDArray[Any]) -> NDArray[np.float64]:
        """Calibrate rows of probabilities in IMM_EMOTIONS order (shape (..., 7)); each row sums to 1."""
        p = np.asarray(probs, dtype=np.float64)
        logits = np.log(np.maximum(p, _PROB_FLOOR)) / self.temperature + np.asarray(self.log_priors)
        logits -= logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float64)

    def __call__(self, emotions: Mapping[str, float]) -> dict[str, float]:
        if self.is_identity:
            total = sum(emotions[k] for k in IMM_EMOTIONS)
            return {k: emotions[k] / total for k in IMM_EMOTIONS}
        out = self.probabilities(np.array([emotions[k] for k in IMM_EMOTIONS]))
        return {k: float(v) for k, v in zip(IMM_EMOTIONS, out, strict=True)}


@dataclass(frozen=True)
class Calibration:
    """The parameters that turn raw network outputs into the document's attribute fields (see the module docstring)."""

    age: AgeMap = field(default_factory=AgeMap)
    gender: GenderRule = field(default_factory=GenderRule)
    emotion: EmotionCalibration = field(default_factory=EmotionCalibration)
    age_sd: AgeSpread | None = None
    gender_head: GenderHead | None = None
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The file's JSON as loaded (provenance, ``fitted_on``, ``validation``): what the report and the fitter read."""

    @classmethod
    def identity(cls) -> Calibration:
        """The engine before any calibration: raw age, a gender for every face, raw emotion probabilities."""
        return cls.from_document(identity_document())

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Calibration:
        """Parse and check a calibration document; ``ValueError`` saying what is wrong."""
        if doc.get("format") not in (1, FORMAT):  # format 1: no AgeSD model, no gender head
            raise ValueError(f"calibration format {doc.get('format')!r} is not {FORMAT}")
        age = AgeMap.from_knots(doc["age"]["knots"])
        g = doc["gender"]
        bands = tuple((float(b["from_age"]), _opt_float(b["min_confidence"])) for b in g["bands"])
        gender = GenderRule(float(g["min_age"]), bands)
        e = doc["emotion"]
        priors = e.get("log_priors") or {}
        unknown = set(priors) - set(IMM_EMOTIONS)
        if unknown:
            raise ValueError(f"emotion log_priors: unknown classes {sorted(unknown)}")
        emotion = EmotionCalibration(float(e["temperature"]), tuple(float(priors.get(k, 0.0)) for k in IMM_EMOTIONS))
        sd = doc["age"].get("sd_model")
        age_sd = (
            None
            if sd is None
            else AgeSpread(float(sd["log_scale"]), float(sd["spread_power"]), float(sd["per_50_years"]))
        )
        h = g.get("head")
        head = None
        if h is not None:
            head = GenderHead(
                float(h["bias"]),
                float(h["net_logit"]),
                tuple(float(v) for v in h.get("embedding") or ()),
                (float(h["fallback"]["bias"]), float(h["fallback"]["net_logit"])),
            )
        return cls(age, gender, emotion, age_sd, head, doc)

    @property
    def digest(self) -> str:
        """Short digest of the result-changing blocks, canonical JSON: part of the engine version."""
        return parameters_digest(self.document)

    @property
    def validation(self) -> Mapping[str, Any] | None:
        """The held-out figures this calibration was validated with, or ``None`` (not validated on licensed data)."""
        value = self.document.get("validation")
        return value if isinstance(value, Mapping) else None

    @cached_property
    def _mapped_class_ages(self) -> NDArray[np.float64]:
        return self.age(AGE_WEIGHTS.astype(np.float64))

    def expected_age(self, age_probs: ArrayLike) -> float:
        """The raw estimate, computed exactly as the attribute code does (float32 sum over class ages)."""
        p = np.asarray(age_probs, dtype=np.float32).reshape(-1)
        return float(np.sum(p * AGE_WEIGHTS, dtype=np.float32))

    def age_and_sd(self, age_probs: ArrayLike) -> tuple[float, float]:
        """(calibrated age, the network's spread): the map of the expectation, the std of the mapped class ages."""
        raw = np.asarray(age_probs, dtype=np.float64).reshape(-1)
        p = raw / max(float(raw.sum()), _PROB_FLOOR)
        mapped = self._mapped_class_ages
        mean = float(np.sum(p * mapped))
        sd = math.sqrt(max(0.0, float(np.sum(p * (mapped - mean) ** 2))))
        return float(self.age(self.expected_age(age_probs))), sd

    def face_fields(
        self,
        age_probs: ArrayLike,
        gender: str,
        gender_confidence: float,
        emotions: Mapping[str, float],
        embedding: ArrayLike | None = None,
    ) -> dict[str, Any]:
        """The document's attribute fields for one face; ``Gender``/``GenderConfidence`` left out when abstaining.

        ``gender``/``gender_confidence``: the gender network's winning class and its probability; ``embedding``: the
        face's L2-normalised SFace vector, or None where the engine computes none."""
        age, spread = self.age_and_sd(age_probs)
        written_age = math.floor(age + 0.5)
        sd = spread if self.age_sd is None else self.age_sd(spread, written_age)
        out: dict[str, Any] = {"Age": written_age, "AgeSD": round(sd, 2)}
        if self.gender_head is not None:
            q_male = gender_confidence if gender == "MALE" else 1.0 - gender_confidence
            p_male = self.gender_head.p_male(q_male, embedding)
            gender, gender_confidence = ("MALE", p_male) if p_male >= 0.5 else ("FEMALE", 1.0 - p_male)
        if self.gender.writes(written_age, gender_confidence):  # the rule reads the Age the user sees
            out["Gender"] = gender
            out["GenderConfidence"] = round(float(gender_confidence), 4)
        details = self.emotion(emotions)
        emotion = max(details, key=lambda k: details[k])
        out["Emotion"] = emotion
        out["EmotionConfidence"] = round(details[emotion], 4)
        out["EmotionDetails"] = {k: round(details[k], 6) for k in IMM_EMOTIONS}
        return out


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def parameters_digest(doc: Mapping[str, Any]) -> str:
    """12 hex digits of sha-256 over the canonical JSON of ``format`` and the result-changing blocks."""
    payload = {"format": doc.get("format"), **{k: doc.get(k) for k in PARAMETER_BLOCKS}}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def identity_document() -> dict[str, Any]:
    """A calibration that changes nothing: the engine's raw outputs, a gender on every face."""
    return {
        "format": FORMAT,
        "name": "identity",
        "age": {"knots": [[0.0, 0.0], [100.0, 100.0]], "sd_model": None, "fitted_on": None},
        "gender": {"min_age": 0, "bands": [{"from_age": 0, "min_confidence": 0.5}], "head": None, "fitted_on": None},
        "emotion": {"temperature": 1.0, "log_priors": dict.fromkeys(IMM_EMOTIONS, 0.0), "fitted_on": None},
        "data": [],
        "validation": None,
    }


def load_calibration(path: Path | None = None) -> Calibration:
    """The shipped calibration (or another file); ConfigError naming the file when it is missing or invalid."""
    source = path or CALIBRATION_FILE
    try:
        return Calibration.from_document(json.loads(source.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError("CalibrationInvalid", f"calibration file {source}: {exc}") from exc
