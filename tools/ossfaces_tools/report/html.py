"""A self-contained HTML report: numbers as tables (``data-metric`` attributes make them machine-checkable), charts as
inline SVG. No scripts, no external URLs: it opens the same offline, in a mail attachment, or in CI's headless browser.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from typing import Any

from ossfaces_tools.report.charts import render
from ossfaces_tools.report.people import section as people_section
from ossfaces_tools.report.trust import trust_statement
from ossfaces_tools.stats import ALL, StatsReport, Totals

MAX_GROUP_CHARTS = 12  # beyond this, groups get tables only: the page stays a few MB at most

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222;max-width:1150px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 1.5rem 1rem 0;display:inline-table;vertical-align:top}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
.chart svg{width:100%;height:auto}.muted{color:#777}
"""
_SUMMARY = (
    ("documents", "result documents"),
    ("images", "photos analysed"),
    ("images_with_faces", "photos with faces"),
    ("faces", "faces"),
    ("error_documents", "error documents"),
    ("unreadable", "unreadable documents"),
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _svg(report: StatsReport, totals: Totals, title: str, people: dict[str, Any] | None = None) -> str:
    svg = render(report, "svg", totals, title, people).decode("utf-8")
    svg = re.sub(r"^.*?(<svg)", r"\1", svg, count=1, flags=re.S)  # drop the XML prolog and DOCTYPE: inline SVG
    return re.sub(r"<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)  # matplotlib's RDF block, nothing to show


def _summary(totals: dict[str, Any], group: str) -> str:
    rows = "".join(
        f'<tr><th class="l">{_e(label)}</th><td data-group="{_e(group)}" data-metric="{name}">{totals[name]}</td></tr>'
        for name, label in _SUMMARY
    )
    return f"<table><caption>totals</caption>{rows}</table>"


def _counts(title: str, metric: str, counts: dict[str, int], group: str) -> str:
    total = sum(counts.values()) or 1
    rows = "".join(
        f'<tr><td class="l">{_e(name)}</td><td data-group="{_e(group)}" data-metric="{metric}" data-category="{_e(name)}">'
        f"{value}</td><td>{100 * value / total:.1f}%</td></tr>"
        for name, value in counts.items()
    )
    return f'<table><caption>{_e(title)}</caption><tr><th class="l">{_e(metric)}</th><th>count</th><th>share</th></tr>{rows}</table>'


def _pyramid(pyramid: dict[str, dict[str, int]], group: str) -> str:
    genders = list(next(iter(pyramid.values())).keys())
    head = "".join(f"<th>{_e(g.lower())}</th>" for g in genders)
    rows = "".join(
        f'<tr><td class="l">{_e(age)}</td>'
        + "".join(
            f'<td data-group="{_e(group)}" data-metric="pyramid" data-category="{_e(age)}" data-gender="{_e(g)}">{v}</td>'
            for g, v in by_gender.items()
        )
        + "</tr>"
        for age, by_gender in pyramid.items()
    )
    return f'<table><caption>age × gender</caption><tr><th class="l">age</th>{head}</tr>{rows}</table>'


def _spread(spread: dict[str, float], group: str) -> str:
    rows = "".join(
        f'<tr><td class="l">{_e(age)}</td><td data-group="{_e(group)}" data-metric="ages_spread" data-category="{_e(age)}">'
        f"{value:.1f}</td></tr>"
        for age, value in spread.items()
    )
    return f'<table><caption>age, faces spread by AgeSD</caption><tr><th class="l">age</th><th>faces</th></tr>{rows}</table>'


def _trust(trust: dict[str, Any]) -> str:
    paragraphs = "".join(f"<p>{_e(line)}</p>" for line in trust["lines"])
    return (
        f'<section id="trust" data-validated="{str(trust["validated"]).lower()}"'
        f' data-calibration="{_e(trust["calibration_digest"])}"><h2>What these numbers can be trusted for</h2>'
        f"{paragraphs}</section>"
    )


def _section(report: StatsReport, name: str, totals: Totals, chart: bool, people: dict[str, Any] | None = None) -> str:
    data = totals.to_dict(report.bins)
    parts = [
        _summary(data, name),
        _counts("gender", "genders", data["genders"], name),
        _counts("emotion", "emotions", data["emotions"], name),
        _pyramid(data["pyramid"], name),
        _spread(data["ages_spread"], name),
    ]
    if data["errors"]:
        parts.append(_counts("error documents by code", "errors", data["errors"], name))
    if chart:
        parts.append(f'<div class="chart">{_svg(report, totals, "" if name == ALL else name, people)}</div>')
    return "\n".join(parts)


def render_html(report: StatsReport, people: dict[str, Any] | None = None) -> str:
    """The page; with ``people`` (``--by person``), their section follows the overall one and the overall chart has
    the per-person row."""
    where = f"oss://{report.bucket}/{report.prefix}" if report.bucket else report.prefix or "(documents)"
    bins = ",".join(str(edge) for edge in report.bins.edges)
    body = [
        f"<h1>Faces in {_e(where)}</h1>",
        f'<p class="muted">Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by <code>ossfaces stats</code>; '
        f"age bins {_e(bins)}; ages and genders are the engine's estimates per face.</p>",
        f'<section id="overall"><h2>All photos</h2>{_section(report, ALL, report.overall, True, people)}</section>',
    ]
    if people is not None:
        body.append(people_section(people))
    body.append(_trust(report.trust or trust_statement(report)))
    if report.groups:
        body.append(f"<h2>By folder (depth {report.group_depth})</h2>")
        for index, (name, totals) in enumerate(report.groups.items()):
            body.append(
                f'<section class="group" data-group="{_e(name)}"><h3>{_e(name)}</h3>'
                f"{_section(report, name, totals, index < MAX_GROUP_CHARTS)}</section>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>ossfaces stats: {_e(where)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
