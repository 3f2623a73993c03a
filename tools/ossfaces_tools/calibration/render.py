"""Text tables of :func:`.evaluate.evaluate`'s figures, one column per calibration (before | after side by side)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ossfaces.vision.attributes import IMM_EMOTIONS

Report = Mapping[str, Any]


def pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def signed(value: Any) -> str:
    return "-" if value is None else f"{float(value):+.1f}"


def num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _get(report: Report, path: Sequence[str]) -> Any:
    value: Any = report
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _section(
    title: str,
    names: Sequence[str],
    reports: Sequence[Report],
    keys: Sequence[str],
    columns: Sequence[tuple[str, str, Callable[[Any], str]]],
    cell: Callable[[str], Sequence[str]],
) -> list[str]:
    """Rows ``keys``, each a dict at ``cell(key)`` with an ``n``; per column (label, field, format) one cell per
    report."""
    header = ["", "n", *(f"{label}{tag}" for label, _, _ in columns for tag in _tags(names))]
    rows = []
    for key in keys:
        n = _get(reports[-1], [*cell(key), "n"])
        rows.append(
            [key, "-" if n is None else str(n)]
            + [fmt(_get(rep, [*cell(key), field])) for _, field, fmt in columns for rep in reports]
        )
    return ["", f"-- {title}", *table(header, rows)]


def _tags(names: Sequence[str]) -> list[str]:
    """Short column tags: ``[1]``, ``[2]``… (the legend above each set of tables names them)."""
    return [f"[{i}]" for i in range(1, len(names) + 1)]


def render(reports: Sequence[tuple[str, Report]], title: str) -> str:
    """Every table for the named reports (same records, different calibrations), one column per report."""
    names = [n for n, _ in reports]
    reps = [r for _, r in reports]
    f = reps[-1]["faces"]
    out = [
        f"== {title}",
        f"faces: {f['labelled']} labelled, {f['matched']} matched, {f['no_face_found']} without a"
        f" detected face; by set: {', '.join(f'{k} {v}' for k, v in f['by_set'].items())}",
        "columns: " + ", ".join(f"{tag} {name}" for tag, name in zip(_tags(names), names, strict=True)),
    ]
    for section in (_binned, _exact, _upper, _spread, _gender, _emotion):
        out += section(names, reps)
    return "\n".join(out) + "\n"


def _binned(names: Sequence[str], reps: Sequence[Report]) -> list[str]:
    b = reps[-1]["age_binned"]
    if not b["n"]:
        return []
    return _section(
        f"age, binned labels (right bin overall: {' | '.join(pct(r['age_binned']['right_bin']) for r in reps)};"
        f" the most any monotone map of the raw estimate reaches, fitted on these faces:"
        f" {pct(b['monotone_ceiling'])}; error to the bin: 0 inside it; {b['open_bin']})",
        names,
        reps,
        list(b["bins"]),
        [
            ("right", "right_bin", pct),
            ("to bin", "signed_error_to_bin", signed),
            ("to middle", "signed_error_to_middle", signed),
        ],
        lambda k: ["age_binned", "bins", k],
    )


def _exact(names: Sequence[str], reps: Sequence[Report]) -> list[str]:
    x = reps[-1]["age_exact"]
    if not x["n"]:
        return []
    headline = (
        "-- age, exact labels: MAE "
        + " | ".join(num(r["age_exact"]["mae"]) for r in reps)
        + ", within 5 years "
        + " | ".join(pct(r["age_exact"]["within_5_years"]) for r in reps)
    )
    return [
        "",
        headline,
        *_section(
            "exact-age bands",
            names,
            reps,
            [k for k, v in x["bands"].items() if v["n"]],
            [("signed", "mean_signed_error", signed), ("MAE", "mae", num)],
            lambda k: ["age_exact", "bands", k],
        ),
    ]


def _upper(names: Sequence[str], reps: Sequence[Report]) -> list[str]:
    u = reps[-1]["age_upper"]
    if not u["n"]:
        return []
    return _section(
        "age against an upper bound (Congress: Age minus the age at the copy date; the portrait is older)",
        names,
        reps,
        list(u["decades"]),
        [("mean", "mean_error_to_upper_bound", signed)],
        lambda k: ["age_upper", "decades", k],
    )


def _spread(names: Sequence[str], reps: Sequence[Report]) -> list[str]:
    sd = reps[-1]["age_sd"]
    if not sd["n"]:
        return []

    def cell(key: str) -> list[str]:
        if key == "all":
            return ["age_sd"]
        return ["age_sd", "bins", key[4:]] if key.startswith("bin ") else ["age_sd", "sets", key]

    return _section(
        f"AgeSD: share of the true age within {sd['interval']} (goal 85-95 %)",
        names,
        reps,
        ["all", *sd["sets"], *(f"bin {k}" for k in sd["bins"])],
        [("coverage", "coverage_90", pct), ("mean SD", "mean_age_sd", num)],
        cell,
    )


def _emotion(names: Sequence[str], reps: Sequence[Report]) -> list[str]:
    e, by_set = reps[-1]["emotion"], reps[-1]["faces"]["by_set"]
    header = ["", "n", *(f"HAPPY{tag}" for tag in _tags(names))]
    rows = [
        [f"label {t}", str(e["support"][t]), *(pct(r["emotion"]["happy_share"].get(t)) for r in reps)]
        for t in e["support"]
    ]
    rows += [
        [f"set {k}", str(by_set.get(k, "-")), *(pct(r["emotion"]["happy_share_by_set"].get(k)) for r in reps)]
        for k in e["happy_share_by_set"]
    ]
    out = ["", "-- emotion: share called HAPPY, per label (London: smiling = HAPPY, neutral = CALM) and per set"]
    out += table(header, rows)
    if e["n"]:
        rows = [[t, *(str(e["confusion"][t][p]) for p in IMM_EMOTIONS)] for t in e["confusion"]]
        out += ["", f"confusion of {names[-1]} (rows: label, columns: engine):"]
        out += table(["label", *(t[:4] for t in IMM_EMOTIONS)], rows)
    return out


def _gender(names: Sequence[str], reps: Sequence[Report]) -> list[str]:
    g = reps[-1]["gender"]
    if not g["n"]:
        return []
    cols = [("cov", "coverage", pct), ("acc", "accuracy_where_written", pct)]
    out = [
        "",
        "-- gender: accuracy where written "
        + " | ".join(pct(r["gender"]["accuracy_where_written"]) for r in reps)
        + ", coverage "
        + " | ".join(pct(r["gender"]["coverage"]) for r in reps)
        + "; recall F/M "
        + " | ".join(
            f"{pct(r['gender']['recall_where_written']['FEMALE'])}/{pct(r['gender']['recall_where_written']['MALE'])}"
            for r in reps
        ),
        "group gap (best minus worst group, points): "
        + " | ".join(
            ", ".join(f"{k} {v:.1f}" for k, v in r["gender"]["group_gap_points"].items()) or "-" for r in reps
        ),
    ]
    out += _section(
        "gender, all faces and faces estimated 13+",
        names,
        reps,
        ["all", "estimated 13+"],
        cols,
        lambda k: ["gender"] if k == "all" else ["gender", "estimated_13_plus"],
    )
    out += _section("gender per set", names, reps, list(g["sets"]), cols, lambda k: ["gender", "sets", k])
    out += _section("gender per labelled age bin", names, reps, list(g["bins"]), cols, lambda k: ["gender", "bins", k])
    out += _section(
        "gender per labelled group", names, reps, list(g["groups"]), cols, lambda k: ["gender", "groups", k]
    )
    rows = [[r["confidence"], str(r["n"]), num(r["mean_confidence"]), pct(r["accuracy"])] for r in g["reliability"]]
    out += [
        "",
        f"reliability of {names[-1]} (faces where written):",
        *table(["confidence", "n", "mean conf", "accuracy"], rows),
    ]
    return out
