"""What a stats report's numbers can be trusted for: the UNKNOWN gender rule and the engine's held-out figures.

Read from the calibration file this package ships (``ossfaces/vision/calibration.json``, docs/calibration.md): its
``validation`` block holds the held-out figures of the calibration the local engine runs with, and the population
they hold for, or is null ("not validated on licensed data"). Documents are matched to it by the ``+calib.<digest>``
part of their ``Engine.Version``: figures for one calibration say nothing about results made under another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ossfaces.vision.calibration import Calibration, load_calibration
from ossfaces_tools.stats import StatsReport


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _years(value: Any) -> str:
    return "-" if value is None else f"{float(value):+.1f} y"


def _age(f: Mapping[str, Any]) -> list[str]:
    parts = []
    binned, exact, upper, sd = (f.get(k) or {} for k in ("age_binned", "age_exact", "age_upper", "age_sd"))
    if binned.get("n"):
        errors = ", ".join(f"{k} {_years(v)}" for k, v in (binned.get("signed_error_to_bin") or {}).items())
        parts.append(
            f"age in the right FairFace bin for {_pct(binned.get('right_bin'))} of {binned['n']} in-the-wild faces;"
            f" mean error to the bin by bin: {errors}"
        )
    if exact.get("n"):
        parts.append(
            f"age MAE {float(exact.get('mae') or 0):.1f} years on {exact['n']} studio portraits with exact ages"
            f" (within 5 years: {_pct(exact.get('within_5_years'))})"
        )
    if upper.get("n"):
        errors = ", ".join(f"{k} {_years(v)}" for k, v in (upper.get("mean_error_to_upper_bound") or {}).items())
        parts.append(f"on {upper['n']} Congress portraits, Age minus an upper bound of the true age: {errors}")
    if sd.get("n"):
        parts.append(f"the true age lies within Age ± 1.645 AgeSD for {_pct(sd.get('coverage_90'))} of {sd['n']} faces")
    return parts


def _gender(f: Mapping[str, Any]) -> list[str]:
    g = f.get("gender") or {}
    if not g.get("n"):
        return []
    adult = g.get("estimated_13_plus") or {}
    parts = [
        f"gender right for {_pct(adult.get('accuracy_where_written'))} of the faces estimated 13 or older where"
        f" written, written for {_pct(adult.get('coverage'))} of them ({adult.get('n')} faces)"
    ]
    bins = g.get("bins") or {}
    young = [
        f"{k}: {_pct(v.get('accuracy_where_written'))} where written, {_pct(v.get('coverage'))} written"
        for k, v in bins.items()
        if k in ("0-2", "3-9", "10-19")
    ]
    if young:
        parts.append("children and teenagers (FairFace) " + "; ".join(young))
    gaps = g.get("group_gap_points") or {}
    if gaps:
        parts.append(
            "gap between the best and worst labelled group: "
            + ", ".join(f"{k} {v:.1f} points" for k, v in gaps.items())
        )
    return parts


def _emotion(f: Mapping[str, Any]) -> list[str]:
    share = (f.get("emotion") or {}).get("happy_share") or {}
    if "HAPPY" in share and "CALM" in share:
        return [f"smiling faces called HAPPY {_pct(share['HAPPY'])}, neutral faces {_pct(share['CALM'])}"]
    return []


def validated_figures(validation: Mapping[str, Any]) -> str:
    """The headline held-out figures of a validation block, with the data and the population they hold for."""
    f = validation.get("figures") or {}
    where = (
        f"{', '.join(validation.get('data') or [])} ({', '.join(validation.get('licence') or [])},"
        f" split {validation.get('split')})"
    )
    parts = [*_age(f), *_gender(f), *_emotion(f)]
    population = validation.get("population")
    engine = str(validation.get("engine") or "").split("-src.")[0]
    return (
        f"validated on {where}"
        + (f" with engine {engine}" if engine else "")
        + (f", {population}" if population else "")
        + ": "
        + ("; ".join(parts) or "no figures")
        + ". Your photos may differ from these faces; figures for children rest on few faces."
    )


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
    validated = validation is not None and validation.get("calibration_digest") == cal.digest
    if validated and validation is not None:
        engine = f"Local engine, calibration {cal.digest}: {validated_figures(validation)}"
    else:
        engine = (
            f"Local engine, calibration {cal.digest}: not validated on licensed data. No age error or gender accuracy"
            " can be quoted for it."
        )
    if cal.age_sd is not None and validated:
        spread = (
            "The age spread by AgeSD puts each face's share in every age bin by a normal with the face's AgeSD, a spread"
            " fitted so that about 90 % of true ages fall within Age ± 1.645 AgeSD (held-out figure above)."
        )
    else:
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
