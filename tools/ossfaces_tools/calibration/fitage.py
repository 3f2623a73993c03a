"""The age fit: a monotone correction that removes the regression to the middle, and an AgeSD that means what it says.

**The map.** The age network regresses to the middle: children and teenagers read older, people over 50 younger.
Fitting the true age on the estimate (``E[age | estimate]``, isotonic regression) keeps that shape: it is the best
guess for one face, but for every true age band the mean error stays biased towards the middle, which is what moves
whole decades of an age histogram. So the map is fitted the other way round (inverse, or "classical", calibration):
``g(age) = E[estimate | age]``, a monotone piecewise-linear function of the true age with knots at the middles of
FairFace's bins (:data:`KNOTS`), fitted by least squares with non-negative increments and a penalty ``λ`` on its
second differences; the shipped map is ``g⁻¹``. It depends on how the network errs at each age, not on the ages of
the people in the fit set. Bins count at their middle, exact ages at their value; Congress's upper bounds are not
used (a check only). ``λ`` is chosen by cross-validation inside ``fit``: the smallest root-mean-square of the per-band
mean signed errors (FairFace bins, to the bin; exact-age bands), the more regular map within 0.05 years of the best.

**The spread.** ``AgeSD = exp(a + b·ln(s + 0.5) + c·Age/50)`` (``s`` the network's own spread after the map) with
``a, b, c`` by maximum likelihood of a normal error on the labelled ranges (a bin is an interval, an open bin stays
open, an exact age is its year), so ``Age ± 1.645 AgeSD`` holds the true age for about 90 % of faces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import lsq_linear, minimize
from scipy.stats import norm

from ossfaces.vision.calibration import AgeMap, AgeSpread, Calibration
from ossfaces_tools.calibration import crossval
from ossfaces_tools.calibration.engine import Record
from ossfaces_tools.calibration.evaluate import AGE_BANDS, error_to_interval

KNOTS = (1.0, 6.0, 14.5, 24.5, 34.5, 44.5, 54.5, 64.5, 77.0)
"""Ages where ``g`` has its knots: the middles of FairFace's bins 0-2 … 70+ (70+ read as 70-84)."""
LAMBDAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0)
"""Smoothness penalties tried, from the most flexible; the largest make ``g`` a straight line."""
ESTIMATE_RANGE = (0.25, 80.0)
"""The raw estimate's range: the age network's smallest and largest class ages."""
SD_START = (1.0, 0.5, 0.0)


def raw_estimates(records: Sequence[Record]) -> NDArray[np.float64]:
    """The engine's uncalibrated expected age of each record (as the engine computes it)."""
    cal = Calibration.identity()
    return np.array([cal.expected_age(r.raw.age_probs) if r.raw else math.nan for r in records])


def _hat(ages: NDArray[np.float64]) -> NDArray[np.float64]:
    """Linear-interpolation weights of each age on :data:`KNOTS` (clamped at the ends)."""
    k = np.asarray(KNOTS)
    a = np.clip(ages, k[0], k[-1])
    j = np.clip(np.searchsorted(k, a) - 1, 0, len(k) - 2)
    t = (a - k[j]) / (k[j + 1] - k[j])
    out = np.zeros((len(a), len(k)))
    out[np.arange(len(a)), j] = 1 - t
    out[np.arange(len(a)), j + 1] = t
    return out


def fit_inverse_map(
    estimates: Sequence[float] | NDArray[np.float64], targets: Sequence[float] | NDArray[np.float64], lam: float
) -> AgeMap:
    """``g⁻¹`` for ``g(age) = E[estimate | age]`` fitted as the module docstring says; an :class:`AgeMap`."""
    e, y = np.asarray(estimates, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if len(e) < 2:
        raise ValueError("the age map needs at least two faces with an age label")
    n = len(KNOTS)
    cumulative = np.tril(np.ones((n, n)))  # knot values = cumulative @ increments
    second = np.diff(np.eye(n), 2, axis=0) @ cumulative
    a = np.vstack([_hat(y) @ cumulative, math.sqrt(lam) * second])
    b = np.concatenate([e, np.zeros(second.shape[0])])
    lower = np.concatenate([[-np.inf], np.zeros(n - 1)])
    values = cumulative @ lsq_linear(a, b, bounds=(lower, np.inf)).x
    return _inverse(values)


def _inverse(values: NDArray[np.float64]) -> AgeMap:
    """Swap ``g``'s knots (equal values merged at their mean age), extended linearly to the estimate's range."""
    xs: list[float] = []
    ys: list[float] = []
    for v in np.unique(values.round(4)):
        xs.append(float(v))
        ys.append(float(np.mean(np.asarray(KNOTS)[np.abs(values - v) < 1e-4])))
    if len(xs) == 1:
        return AgeMap((xs[0], xs[0] + 1.0), (ys[0], ys[0]))
    lo, hi = ESTIMATE_RANGE
    if lo < xs[0]:
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        xs.insert(0, lo)
        ys.insert(0, max(0.0, min(ys[0], ys[0] - slope * (xs[1] - lo))))
    if hi > xs[-1]:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        xs.append(hi)
        ys.append(min(100.0, max(ys[-1], ys[-1] + slope * (hi - xs[-2]))))
    return AgeMap(tuple(round(x, 3) for x in xs), tuple(round(y, 3) for y in ys))


def _targets(records: Sequence[Record]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    aged = [r for r in records if r.raw is not None and r.label.age_target is not None]
    return raw_estimates(aged), np.array([float(r.label.age_target or 0) for r in aged])


def bias_score(records: Sequence[Record], written: NDArray[np.float64]) -> float:
    """RMS over bands of the mean signed error: FairFace bins (to the bin), exact-age bands with >= 10 faces."""
    cells: dict[str, list[float]] = {}
    for r, age in zip(records, written, strict=True):
        lab = r.label
        if lab.age_bin is not None and lab.age_range is not None:
            low, high = lab.age_range
            top = math.inf if lab.age_bin[1] is None else high
            cells.setdefault(f"bin {lab.age_bin}", []).append(error_to_interval(age, low + 0.5, top + 0.5))
        elif lab.age is not None:
            band = next(n for n, lo, hi in AGE_BANDS if lab.age >= lo and (hi is None or lab.age < hi + 1))
            cells.setdefault(band, []).append(age - lab.age)
    means = [float(np.mean(v)) for v in cells.values() if len(v) >= 10]
    return math.sqrt(float(np.mean(np.square(means)))) if means else 0.0


@dataclass(frozen=True)
class AgeFit:
    age_map: AgeMap
    lam: float
    scores: dict[str, float]
    faces: int


def fit_age(records: Sequence[Record]) -> AgeFit:
    """The map, with ``λ`` chosen by cross-validation over :data:`LAMBDAS` (:func:`bias_score`)."""
    aged = [r for r in records if r.raw is not None and r.label.age_target is not None]

    def cv_score(lam: float) -> float:
        pred = crossval.out_of_fold(
            aged,
            lambda train: fit_inverse_map(*_targets(train), lam),
            lambda m, test: np.floor(m(raw_estimates(test)) + 0.5),
        )
        return bias_score(aged, pred)

    lam, scores = crossval.choose(LAMBDAS, cv_score, prefer_last_within=0.05)
    return AgeFit(fit_inverse_map(*_targets(aged), lam), lam, scores, len(aged))


def _spread_inputs(
    records: Sequence[Record], age_map: AgeMap
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    cal = Calibration(age=age_map)
    rows = [r for r in records if r.raw is not None and r.label.age_likelihood_range is not None]
    ages, spreads = [], []
    for r in rows:
        assert r.raw is not None
        age, spread = cal.age_and_sd(r.raw.age_probs)
        ages.append(math.floor(age + 0.5))
        spreads.append(spread)
    ranges = np.array([r.label.age_likelihood_range for r in rows], dtype=np.float64).reshape(-1, 2)
    return np.array(ages, dtype=np.float64), np.array(spreads), ranges[:, 0], ranges[:, 1]


def fit_spread(records: Sequence[Record], age_map: AgeMap) -> AgeSpread:
    """``a, b, c`` of :class:`AgeSpread` by maximum likelihood of the labelled ranges (module docstring)."""
    ages, spreads, low, high = _spread_inputs(records, age_map)
    if len(ages) < 3:
        raise ValueError("the age spread needs at least three faces with an age label")

    def nll(theta: NDArray[np.float64]) -> float:
        sd = np.exp(np.minimum(theta[0] + theta[1] * np.log(spreads + 0.5) + theta[2] * ages / 50, 6.0))
        p = norm.cdf(high, ages, sd) - norm.cdf(low, ages, sd)
        return float(-np.sum(np.log(np.maximum(p, 1e-12))))

    theta = minimize(nll, np.asarray(SD_START), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6}).x
    return AgeSpread(*(round(float(v), 4) for v in theta))
