"""Fit the shipped calibration on the ``fit`` split, validate it on ``holdout``: a short list of named steps.

:func:`fit` refuses data off the licence allow-list, then fits the age map (:mod:`.fitage`), the age spread, the
gender head and thresholds (:mod:`.fitgender`) and the HAPPY prior (:mod:`.fitemotion`), each choosing its
hyper-parameters by cross-validation inside ``fit``; writes into every fitted block where it came from (data sets,
licences, split, faces, the cross-validation scores); and measures the result once on ``holdout`` (the
``validation`` block, which the stats report quotes). The product's decisions (the minimum age for a gender) are
kept from the base file.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ossfaces.vision.attributes import IMM_EMOTIONS
from ossfaces.vision.calibration import Calibration, parameters_digest
from ossfaces_tools.calibration.datasets import SETS
from ossfaces_tools.calibration.engine import Record
from ossfaces_tools.calibration.evaluate import evaluate, population, summary
from ossfaces_tools.calibration.fitage import AgeFit, fit_age, fit_spread
from ossfaces_tools.calibration.fitemotion import EmotionFit, fit_emotion
from ossfaces_tools.calibration.fitgender import SET_FLOOR, TARGET, GenderFit, fit_gender
from ossfaces_tools.calibration.labels import require_allowed


@dataclass(frozen=True)
class FitOutcome:
    """The new calibration document and the holdout figures before (the base file) and after."""

    document: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def provenance(records: Sequence[Record], split: str) -> dict[str, Any]:
    """What a fitted block says about its data: sets, licences, split, faces, date."""
    return {
        "data": sorted({r.label.dataset for r in records}),
        "licence": sorted({r.label.licence for r in records}),
        "split": split,
        "faces": len(records),
        "date": _today(),
    }


def data_block(records: Sequence[Record]) -> list[dict[str, str]]:
    """Each data set used: licence, source and the attribution its licence asks for (NOTICE is generated from it)."""
    out = []
    for name in sorted({r.label.dataset for r in records}):
        known = SETS.get(name)
        licence = sorted({r.label.licence for r in records if r.label.dataset == name})
        out.append(
            {
                "name": name,
                "licence": known.licence_text if known else ", ".join(licence),
                "source": known.source if known else "",
                "attribution": known.attribution if known else "",
            }
        )
    return out


def age_block(doc: dict[str, Any], train: Sequence[Record], age: AgeFit) -> None:
    aged = [r for r in train if r.label.age_target is not None]
    spread = fit_spread(train, age.age_map)
    doc["age"] = {
        "knots": age.age_map.knots,
        "sd_model": {
            "log_scale": spread.log_scale,
            "spread_power": spread.spread_power,
            "per_50_years": spread.per_50_years,
        },
        "method": "inverse calibration: g(age) = E[estimate | age] monotone piecewise-linear, knots at FairFace bin"
        " middles, second-difference penalty chosen by 5-fold cross-validation inside fit (RMS of per-band mean"
        " signed errors); the map is g's inverse. AgeSD = exp(log_scale + spread_power*ln(s+0.5) + per_50_years*Age/50),"
        " s the network's spread after the map, by maximum likelihood of the labelled age ranges.",
        "chosen": {"penalty": age.lam, "cv_scores": age.scores},
        "fitted_on": provenance(aged, "fit")
        | {"note": "Congress ages are upper bounds: not used to fit, only checked"},
    }


def gender_block(doc: dict[str, Any], train: Sequence[Record], gender: GenderFit) -> None:
    head = gender.head
    doc["gender"] = {
        "min_age": doc["gender"]["min_age"],
        "min_age_source": doc["gender"].get("min_age_source"),
        "bands": [{"from_age": b["from_age"], "min_confidence": b["min_confidence"]} for b in gender.bands],
        "head": None
        if head is None
        else {
            "bias": head.bias,
            "net_logit": head.net_logit,
            "embedding": list(head.embedding),
            "fallback": {"bias": head.fallback[0], "net_logit": head.fallback[1]},
        },
        "method": f"thresholds: per band of the written Age, the smallest confidence giving >= {TARGET:.0%} accuracy"
        f" where written overall and >= {SET_FLOOR:.0%} in every set with 20+ faces in the band, 30+ faces written,"
        " on out-of-fold confidences; null = never written in that band. Head: L2 logistic regression on the gender"
        " network's logit and the SFace embedding, penalty by 5-fold cross-validated log-loss; shipped only if it"
        " writes more faces than the network's own confidence at the same rule.",
        "chosen": {
            "penalty": gender.lam,
            "cv_log_loss": gender.scores,
            "coverage_with_head": round(gender.coverage_head, 4),
            "coverage_without_head": round(gender.coverage_net, 4),
            "bands_from_age_0": gender.under_min_age,
        },
        "fitted_on": provenance([r for r in train if r.label.gender], "fit"),
    }


def emotion_block(doc: dict[str, Any], train: Sequence[Record], emotion: EmotionFit | None) -> None:
    if emotion is None:
        return
    doc["emotion"] = {
        "temperature": 1.0,
        "log_priors": {k: emotion.happy_prior if k == "HAPPY" else 0.0 for k in IMM_EMOTIONS},
        "method": "HAPPY log-prior only (the labels are neutral / smiling): best balanced accuracy on fit with"
        " neutral -> HAPPY <= 5 %",
        "chosen": {
            "cv_smiling_happy": round(emotion.cv_smiling_happy, 4),
            "cv_neutral_happy": round(emotion.cv_neutral_happy, 4),
        },
        "fitted_on": provenance([r for r in train if r.label.emotion in ("CALM", "HAPPY")], "fit"),
    }


def validation_block(
    records: Sequence[Record], report: dict[str, Any], digest: str, split: str, engine: str
) -> dict[str, Any]:
    """What the stats report quotes: data, licences, split, population, the calibration and engine it holds for."""
    return {
        **provenance(records, split),
        "calibration_digest": digest,
        "engine": engine,
        "population": population(records),
        "figures": summary(report),
    }


def fit(
    records: Sequence[Record],
    base: dict[str, Any],
    *,
    engine: str,
    fit_split: str = "fit",
    holdout_split: str = "holdout",
) -> FitOutcome:
    """(new calibration document, holdout figures before and after). ``LicenceRefused`` before any fitting."""
    require_allowed((r.label for r in records), "fit a shipped calibration")
    train = [r for r in records if r.label.split == fit_split and r.raw is not None]
    holdout = [r for r in records if r.label.split == holdout_split]
    if not train:
        raise ValueError(f"no matched faces in split {fit_split!r}")
    if not holdout:
        raise ValueError(
            f"no faces in held-out split {holdout_split!r}: figures must come from faces the fit never saw"
        )
    doc = copy.deepcopy(base)
    doc["name"] = f"fitted-{_today()}"
    doc.pop("note", None)
    age = fit_age(train)
    age_block(doc, train, age)
    gender_block(doc, train, fit_gender(train, age.age_map, float(doc["gender"]["min_age"])))
    emotion_block(doc, train, fit_emotion(train))
    doc["data"] = data_block(records)
    after = evaluate(holdout, Calibration.from_document(doc))
    doc["validation"] = validation_block(holdout, after, parameters_digest(doc), holdout_split, engine)
    return FitOutcome(doc, evaluate(holdout, Calibration.from_document(base)), after)
