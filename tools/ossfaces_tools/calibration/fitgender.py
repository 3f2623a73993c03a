"""The gender fit: a small head over what the networks already computed, and per-band thresholds where abstaining pays.

**The head** (:class:`~ossfaces.vision.calibration.GenderHead`): logistic regression of the labelled gender on the
gender network's logit and the face's 128-d SFace embedding, an L2 penalty ``λ`` on the embedding's weights (the net's
logit and the bias are not penalised), ``λ`` chosen by the out-of-fold log-loss inside ``fit``
(:data:`LAMBDAS`). Its fallback, for faces without an embedding, is the same regression on the logit alone. The
head ships only when it pays: when, with thresholds fitted the same way, it writes a gender on more of the faces
estimated at the minimum age or over than the network's own confidence does (out-of-fold, inside ``fit``).

**The thresholds**: per band of the written Age (:data:`BAND_STARTS`, from the product's minimum age), the smallest
confidence at which the faces written in that band reach :data:`TARGET` overall and :data:`SET_FLOOR` in every set
with at least :data:`SET_MIN_FACES` faces there (so the easy portraits of one set cannot hide the in-the-wild photos
of another), with at least :data:`MIN_SUPPORT` faces written; a band that cannot reach it never writes (``null``).
Chosen on out-of-fold confidences, so they are set on answers the head gave to faces it was not fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from ossfaces.vision.calibration import LOGIT_CLIP, AgeMap, Calibration, GenderHead
from ossfaces_tools.calibration import crossval
from ossfaces_tools.calibration.engine import Record

TARGET = 0.96
SET_FLOOR = 0.90
SET_MIN_FACES = 20
MIN_SUPPORT = 30
BAND_STARTS = (0, 13, 20, 40, 60)
LAMBDAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
"""Penalties on the embedding's weights tried, from the most flexible."""


def net_logit(record: Record) -> float:
    """The gender network's log-odds of MALE, clipped as the engine clips it."""
    assert record.raw is not None
    c = min(max(record.raw.gender_confidence, 1e-12), 1 - 1e-12)
    q = c if record.raw.gender == "MALE" else 1 - c
    return min(max(math.log(q / (1 - q)), -LOGIT_CLIP), LOGIT_CLIP)


def _logistic(x: NDArray[np.float64], y: NDArray[np.float64], penalty: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weights (bias first) of an L2-penalised logistic regression; ``penalty`` per column of ``x``."""

    def loss(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        s = x @ w[1:] + w[0]
        p = 1 / (1 + np.exp(-s))
        value = float(np.sum(np.logaddexp(0, s) - y * s) + 0.5 * np.sum(penalty * w[1:] ** 2))
        return value, np.concatenate([[np.sum(p - y)], x.T @ (p - y) + penalty * w[1:]])

    return np.asarray(minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x, dtype=np.float64)


def fit_head(records: Sequence[Record], lam: float) -> GenderHead:
    """The head and its fallback on ``records`` (labelled gender, raw outputs present)."""
    rows = [r for r in records if r.raw is not None and r.label.gender]
    y = np.array([r.label.gender == "MALE" for r in rows], dtype=np.float64)
    z = np.array([net_logit(r) for r in rows])
    fallback = _logistic(z[:, None], y, np.zeros(1))
    with_emb = [i for i, r in enumerate(rows) if r.raw is not None and r.raw.embedding is not None]
    if len(with_emb) < 10:
        return GenderHead(float(fallback[0]), float(fallback[1]), (), (float(fallback[0]), float(fallback[1])))
    emb = np.array([r.raw.embedding for r in (rows[i] for i in with_emb) if r.raw is not None], dtype=np.float64)
    x = np.column_stack([z[with_emb], emb])
    w = _logistic(x, y[with_emb], np.concatenate([[0.0], np.full(emb.shape[1], lam)]))
    return GenderHead(
        round(float(w[0]), 5),
        round(float(w[1]), 5),
        tuple(round(float(v), 5) for v in w[2:]),
        (round(float(fallback[0]), 5), round(float(fallback[1]), 5)),
    )


def head_p_male(head: GenderHead, records: Sequence[Record]) -> NDArray[np.float64]:
    out = []
    for r in records:
        assert r.raw is not None
        q = 1 / (1 + math.exp(-net_logit(r)))
        out.append(head.p_male(q, r.raw.embedding))
    return np.array(out)


def net_p_male(records: Sequence[Record]) -> NDArray[np.float64]:
    return np.array([1 / (1 + math.exp(-net_logit(r))) for r in records])


def _log_loss(p: NDArray[np.float64], records: Sequence[Record]) -> float:
    y = np.array([r.label.gender == "MALE" for r in records], dtype=np.float64)
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_bands(
    ages: Sequence[float] | NDArray[np.float64],
    confidences: Sequence[float] | NDArray[np.float64],
    correct: Sequence[bool] | NDArray[np.bool_],
    sets: Sequence[str],
    *,
    min_age: float,
) -> list[dict[str, Any]]:
    """Per band of written Age from ``min_age`` (:data:`BAND_STARTS`): the threshold of the module docstring."""
    starts = sorted({float(min_age), *(float(s) for s in BAND_STARTS if s > min_age)})
    a, c = np.asarray(ages, dtype=np.float64), np.asarray(confidences, dtype=np.float64)
    ok, where = np.asarray(correct, dtype=bool), np.asarray(sets)
    bands = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else math.inf
        inside = (a >= start) & (a < end)
        threshold = None
        for t in np.unique(c[inside]):
            written = inside & (c >= t)
            if written.sum() < MIN_SUPPORT:
                break
            if ok[written].mean() >= TARGET and all(
                ok[written & (where == s)].mean() >= SET_FLOOR
                for s in np.unique(where[inside])
                if (written & (where == s)).sum() >= SET_MIN_FACES
            ):
                threshold = round(float(t), 4)
                break
        bands.append({"from_age": start, "min_confidence": threshold, "faces": int(inside.sum())})
    return bands


def coverage(bands: Sequence[dict[str, Any]], ages: NDArray[np.float64], conf: NDArray[np.float64]) -> float:
    """Share of faces (written Age at the first band's start or over) that the bands give a gender."""
    starts = [b["from_age"] for b in bands]
    adult = ages >= starts[0]
    written = 0
    for i, b in enumerate(bands):
        end = starts[i + 1] if i + 1 < len(starts) else math.inf
        inside = (ages >= b["from_age"]) & (ages < end)
        if b["min_confidence"] is not None:
            written += int((inside & (conf >= b["min_confidence"])).sum())
    return written / max(1, int(adult.sum()))


@dataclass(frozen=True)
class GenderFit:
    head: GenderHead | None
    bands: list[dict[str, Any]]
    lam: float
    scores: dict[str, float]
    coverage_head: float
    coverage_net: float
    under_min_age: list[dict[str, Any]]
    """The bands as the same rule would set them from age 0: the figures behind keeping (or not) the minimum age."""
    faces: int


def fit_gender(records: Sequence[Record], age_map: AgeMap, min_age: float) -> GenderFit:
    """Head (``λ`` by out-of-fold log-loss), then thresholds for the head and for the network alone; the better ships."""
    rows = [r for r in records if r.raw is not None and r.label.gender]
    lam, scores = crossval.choose(
        LAMBDAS,
        lambda lam: _log_loss(crossval.out_of_fold(rows, lambda train: fit_head(train, lam), head_p_male), rows),
    )
    p_head = crossval.out_of_fold(rows, lambda train: fit_head(train, lam), head_p_male)
    p_net = net_p_male(rows)
    mapped = Calibration(age=age_map)
    ages = np.array([math.floor(mapped.age_and_sd(r.raw.age_probs)[0] + 0.5) for r in rows if r.raw is not None])
    truth = np.array([r.label.gender == "MALE" for r in rows])
    sets = [r.label.dataset for r in rows]

    def bands_for(p: NDArray[np.float64], start: float) -> tuple[list[dict[str, Any]], NDArray[np.float64]]:
        conf = np.maximum(p, 1 - p)
        return fit_bands(ages, conf, (p >= 0.5) == truth, sets, min_age=start), conf

    head_bands, head_conf = bands_for(p_head, min_age)
    net_bands, net_conf = bands_for(p_net, min_age)
    cov_head, cov_net = coverage(head_bands, ages, head_conf), coverage(net_bands, ages, net_conf)
    use_head = cov_head > cov_net
    under, _ = bands_for(p_head if use_head else p_net, 0.0)
    return GenderFit(
        fit_head(rows, lam) if use_head else None,
        head_bands if use_head else net_bands,
        lam,
        scores,
        cov_head,
        cov_net,
        under,
        len(rows),
    )
