"""The figures of ``ossfaces stats --by person`` (:func:`ossfaces_tools.people.figures.people_figures`) in the files:
CSV rows, an HTML section and the charts, so that every output holds what the terminal prints.

In the CSV and the HTML they form the group ``(people)``: one vote per person, beside the per-face groups.
"""

from __future__ import annotations

import html
from typing import Any

GROUP = "(people)"
_SUMMARY = (
    ("people", "people"),
    ("faces_with_person", "faces with a person"),
    ("faces_without_person", "faces without a person"),
)


def rows(figures: dict[str, Any]) -> list[list[Any]]:
    """``group,metric,category,gender,value`` rows, as :meth:`StatsReport.to_csv` writes the per-face ones."""
    out: list[list[Any]] = [[GROUP, metric, "", "", figures[metric]] for metric, _ in _SUMMARY]
    out += [[GROUP, "people_genders", g, "", v] for g, v in figures["genders"].items()]
    out += [[GROUP, "people_ages", a, "", v] for a, v in figures["ages"].items()]
    out += [[GROUP, "people_pyramid", a, g, v] for a, row in figures["pyramid"].items() for g, v in row.items()]
    spread = figures["photos_per_person"]
    out += [[GROUP, "photos_per_person", label, "", v] for label, v in spread["distribution"].items()]
    out += [[GROUP, f"photos_per_person_{k}", "", "", spread[k]] for k in ("mean", "median", "max")]
    out += [[GROUP, "people_per_photo", n, "", v] for n, v in figures["people_per_photo"].items()]
    return out


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(metric: str, value: Any, category: str = "", gender: str = "") -> str:
    attributes = f'data-group="{GROUP}" data-metric="{metric}"'
    attributes += f' data-category="{_e(category)}"' if category else ""
    attributes += f' data-gender="{_e(gender)}"' if gender else ""
    return f"<td {attributes}>{_e(value)}</td>"


def _table(caption: str, head: list[str], body: list[str]) -> str:
    header = "".join(f'<th class="{"l" if i == 0 else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    return f"<table><caption>{_e(caption)}</caption><tr>{header}</tr>{''.join(body)}</table>"


def section(figures: dict[str, Any]) -> str:
    """The HTML section: the terminal's tables, every number in a ``data-group="(people)"`` cell (the charts are in
    the overall chart's third row)."""
    summary = [f'<tr><th class="l">{_e(label)}</th>{_cell(metric, figures[metric])}</tr>' for metric, label in _SUMMARY]
    genders = [
        f'<tr><td class="l">{_e(g)}</td>{_cell("people_genders", v, g)}</tr>' for g, v in figures["genders"].items()
    ]
    pyramid = [
        f'<tr><td class="l">{_e(age)}</td>'
        + "".join(_cell("people_pyramid", v, age, g) for g, v in row.items())
        + _cell("people_ages", figures["ages"][age], age)
        + "</tr>"
        for age, row in figures["pyramid"].items()
    ]
    genders_head = [g.lower() for g in next(iter(figures["pyramid"].values()))]
    spread = figures["photos_per_person"]
    photos = [
        f'<tr><td class="l">{_e(b)}</td>{_cell("photos_per_person", v, b)}</tr>'
        for b, v in spread["distribution"].items()
    ]
    photos += [
        f'<tr><th class="l">{k}</th>{_cell(f"photos_per_person_{k}", spread[k])}</tr>'
        for k in ("mean", "median", "max")
    ]
    per_photo = [
        f'<tr><td class="l">{_e(n)}</td>{_cell("people_per_photo", v, n)}</tr>'
        for n, v in figures["people_per_photo"].items()
    ]
    parts = [
        _table("totals", ["", "count"], summary),
        _table("gender (per person)", ["gender", "people"], genders),
        _table("age (median per person) × gender", ["age", *genders_head, "people"], pyramid),
        _table("photos per person", ["photos", "people"], photos),
        _table("people per photo", ["people in photo", "photos"], per_photo),
    ]
    return (
        f'<section id="people" data-group="{GROUP}"><h2>People (one vote per person)</h2><p class="muted">A person\'s'
        " age is the median of their faces' ages, their gender the confidence-weighted vote of their faces (the people"
        " file of <code>ossfaces people</code>).</p>" + "\n".join(parts) + "</section>"
    )
