"""The emotion fit: HAPPY for smiles, without making neutral faces happy.

The only licensed expression labels are London's neutral / smiling pairs, so the one parameter fitted is the log-prior
of HAPPY (``emotion.log_priors.HAPPY``; temperature 1, the other priors 0): it moves the line between HAPPY and the
rest without reordering the other six classes. It is the grid value (:data:`GRID`) with the best balanced accuracy on
``fit`` (the mean of smiling → HAPPY and neutral → not HAPPY) among those that keep neutral → HAPPY at or under
:data:`NEUTRAL_CEILING`; the smallest such value on ties. The cross-validated figures (the prior chosen on four folds,
scored on the fifth) say what to expect on faces the fit did not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces_tools.calibration import crossval
from ossfaces_tools.calibration.engine import Record

GRID = tuple(round(0.25 * i, 2) for i in range(17))
NEUTRAL_CEILING = 0.05
HAPPY = IMM_EMOTIONS.index("HAPPY")


def _says_happy(records: Sequence[Record], prior: float) -> NDArray[np.bool_]:
    p = np.array([[r.raw.emotions[k] for k in IMM_EMOTIONS] for r in records if r.raw is not None])
    logits = np.log(np.maximum(p, 1e-12))
    logits[:, HAPPY] += prior
    return np.asarray(logits.argmax(axis=1) == HAPPY)


def rates(records: Sequence[Record], prior: float) -> tuple[float, float]:
    """(smiling → HAPPY, neutral → HAPPY) shares under a HAPPY log-prior."""
    said = _says_happy(records, prior)
    smiling = np.array([r.label.emotion == "HAPPY" for r in records])
    return float(said[smiling].mean()) if smiling.any() else 0.0, float(said[~smiling].mean()) if (
        ~smiling
    ).any() else 0.0


def choose_prior(records: Sequence[Record]) -> float:
    best, best_score = 0.0, -1.0
    for prior in GRID:
        smile, neutral = rates(records, prior)
        score = (smile + 1 - neutral) / 2
        if neutral <= NEUTRAL_CEILING and score > best_score + 1e-9:
            best, best_score = prior, score
    return best


@dataclass(frozen=True)
class EmotionFit:
    happy_prior: float
    cv_smiling_happy: float
    cv_neutral_happy: float
    faces: int


def fit_emotion(records: Sequence[Record]) -> EmotionFit | None:
    """The HAPPY prior on records labelled CALM or HAPPY; None when there are none of both."""
    rows = [r for r in records if r.raw is not None and r.label.emotion in ("CALM", "HAPPY")]
    if not {r.label.emotion for r in rows} >= {"CALM", "HAPPY"}:
        return None
    said = crossval.out_of_fold(
        rows, choose_prior, lambda prior, test: _says_happy(test, prior).astype(np.float64)
    ).astype(bool)
    smiling = np.array([r.label.emotion == "HAPPY" for r in rows])
    return EmotionFit(choose_prior(rows), float(said[smiling].mean()), float(said[~smiling].mean()), len(rows))
