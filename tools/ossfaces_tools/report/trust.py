"""What a stats report's numbers can be trusted for: the UNKNOWN gender rule and the engine's validated figures.

Read from the calibration file this package ships (``ossfaces/vision/calibration.json``, docs/design.md "Engines"): its ``validation`` block holds the held-out figures of the calibration the local engine runs with, or is
null ("not validated on licensed data"). Documents are matched to it by the ``+calib.<digest>`` part of their
``Engine.Version``: figures for one calibration say nothing about results made under another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ossfaces.vision.calibration import Calibration, load_calibration
from ossfaces_tools.stats import StatsReport


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _years(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} years"


def validated_figures(validation: Mapping[str, Any]) -> str:
    """One sentence of the headline held-out figures of a validation block."""
    f = validation.get("figures") or {}
    parts = []
    age, binned = f.get("age_exact") or {}, f.get("age_binned") or {}
    if age.get("n"):
        parts.append(
            f"age MAE {_years(age.get('mae'))} ({age['n']} faces, within 5 years {_pct(age.get('within_5_years'))})"
        )
    if binned.get("n"):
        parts.append(
            f"age bin accuracy {_pct(binned.get('bin_accuracy'))}, within one bin {_pct(binned.get('within_one_bin'))}"
            f" ({binned['n']} faces)"
        )
    gender = f.get("gender") or {}
    if gender.get("n"):
        parts.append(
            f"gender accuracy where written {_pct(gender.get('accuracy_where_written'))} at coverage"
            f" {_pct(gender.get('coverage'))} ({gender['n']} faces)"
        )
    emotion = f.get("emotion") or {}
    if emotion.get("n"):
        parts.append(
            f"emotion accuracy {_pct(emotion.get('accuracy'))}, mean per-class recall {_pct(emotion.get('mean_recall'))}"
        )
    where = (
        f"{', '.join(validation.get('dataset') or [])} ({', '.join(validation.get('licence') or [])},"
        f" split {validation.get('split')})"
    )
    return f"validated on {where}: " + ("; ".join(parts) or "no figures")


def trust_statement(report: StatsReport, calibration: Calibration | None = None) -> dict[str, Any]:
    """The notes a report prints beside its numbers, as data (``lines`` is the text)."""
    cal = calibration or load_calibration()
    min_age = int(cal.gender.min_age)
    engines = report.overall.engines
    local = {k: v for k, v in engines.items() if k.startswith("local/") or " via local/" in k}
    stand_in = sum(v for k, v in local.items() if " via local/" in k)
    this = sum(v for k, v in local.items() if k.endswith(f"+calib.{cal.digest}"))
    other_local = sum(local.values()) - this
    other_engines = sum(engines.values()) - sum(local.values())
    unknown = (
        "Faces without a Gender are counted as UNKNOWN. The local engine writes no gender where it abstains: a face"
        f" whose estimated age is under {min_age} (a product decision: gender read from a child's face is close to"
        " chance) or whose confidence is below its age band's threshold. IMM may leave it out too. UNKNOWN is neither a"
        " third gender nor a failed analysis; shares of FEMALE and MALE are shares of the faces that have one."
    )
    validation = cal.validation
    if validation is not None and validation.get("calibration_digest") == cal.digest:
        validated = True
        engine = f"Local engine, calibration {cal.digest}: {validated_figures(validation)}."
    else:
        validated = False
        engine = (
            f"Local engine, calibration {cal.digest}: not validated on licensed data. No age error or gender accuracy"
            " can be quoted for it; no parameter it ships was fitted on data (the age correction and the emotion"
            f" calibration are the identity; the under-{min_age} gender rule is a product decision)."
        )
    spread = (
        "The age spread by AgeSD puts each face's share in every age bin by a normal with the face's AgeSD: the age"
        " network's own spread, not calibrated against its errors."
    )
    through = f" ({stand_in} of them through the local stack's imm/detectface, which it answers)" if stand_in else ""
    engines_line = (
        f"Analysed documents by engine: {this} by the local engine with this calibration{through}, {other_local} by the local"
        " engine with another calibration (not covered by this statement; a backfill re-processes them),"
        f" {other_engines} by other engines"
        + (" (IMM's models: not validated by this project)." if other_engines else ".")
    )
    return {
        "unknown_gender": unknown,
        "calibration_digest": cal.digest,
        "validated": validated,
        "validation": dict(validation) if validated and validation is not None else None,
        "documents": {"this_calibration": this, "other_calibration": other_local, "other_engines": other_engines},
        "lines": [unknown, engine, engines_line, spread],
    }
