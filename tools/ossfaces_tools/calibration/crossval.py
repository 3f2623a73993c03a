"""Cross-validation inside the fit split: folds by person, out-of-fold predictions, a grid chosen by a score.

Every hyper-parameter the fitter chooses (the age map's smoothness, the gender head's regularisation and whether it
is used at all, the HAPPY prior) is chosen here, on the ``fit`` split only: the ``holdout`` split is read once, to
report. A person's photos (London's neutral and smiling pair) always fall in the same fold, so no fold is scored on
a face whose twin it was fitted on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ossfaces_tools.calibration.engine import Record

FOLDS = 5
T = TypeVar("T")
P = TypeVar("P")


def folds(records: Sequence[Record], k: int = FOLDS) -> NDArray[np.int64]:
    """Fold number of each record: a hash of its person, so it is the same in every run and never splits a person."""
    return np.array(
        [int(hashlib.sha256(r.label.person_key.encode()).hexdigest()[:8], 16) % k for r in records], dtype=np.int64
    )


def out_of_fold(
    records: Sequence[Record],
    fit: Callable[[Sequence[Record]], T],
    predict: Callable[[T, Sequence[Record]], NDArray[np.float64]],
    k: int = FOLDS,
) -> NDArray[np.float64]:
    """Each record's prediction by a model fitted on the other folds (rows stacked in the records' order)."""
    fold = folds(records, k)
    out: NDArray[np.float64] | None = None
    for f in range(k):
        train = [r for r, g in zip(records, fold, strict=True) if g != f]
        test_idx = np.flatnonzero(fold == f)
        if not len(test_idx):
            continue
        pred = predict(fit(train), [records[i] for i in test_idx])
        if out is None:
            out = np.zeros((len(records), *pred.shape[1:]), dtype=np.float64)
        out[test_idx] = pred
    assert out is not None, "no fold held any record"
    return out


def choose(
    grid: Sequence[P], score: Callable[[P], float], *, prefer_last_within: float = 0.0
) -> tuple[P, dict[str, float]]:
    """(the grid value with the lowest score, every value's score). Among values within ``prefer_last_within`` of
    the best, the last one wins: grids are ordered from the most flexible to the most regularised."""
    scores = {repr(g): round(float(score(g)), 4) for g in grid}
    best = min(scores.values())
    chosen = [g for g in grid if scores[repr(g)] <= best + prefer_last_within][-1]
    return chosen, scores
