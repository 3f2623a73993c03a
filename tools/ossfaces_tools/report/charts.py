"""The four charts of a stats report in one matplotlib figure: age × gender pyramid, ages, genders, emotions; with
``--by person``, a third row of three: people by median age × gender, photos per person, people per photo.

Agg backend only (no display needed, same pixels everywhere); SVG output keeps text as paths so the HTML report needs
no fonts and no network.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ossfaces_tools.stats import GENDERS, UNKNOWN, StatsReport, Totals

COLOURS = {"FEMALE": "#d95f8e", "MALE": "#3b7dd8", UNKNOWN: "#9a9a9a"}


def figure(
    report: StatsReport, totals: Totals | None = None, title: str = "", people: dict[str, Any] | None = None
) -> Figure:
    data = (totals or report.overall).to_dict(report.bins)
    ages = list(report.bins.labels)
    if people is None:
        fig, grid = plt.subplots(2, 2, figsize=(12, 8.5), layout="constrained")
        axes = {"pyramid": grid[0][0], "ages": grid[0][1], "genders": grid[1][0], "emotions": grid[1][1]}
    else:
        fig, mosaic = plt.subplot_mosaic("yyyaaa;gggeee;pphhcc", figsize=(12, 12.75), layout="constrained")
        names = {"y": "pyramid", "a": "ages", "g": "genders", "e": "emotions", "p": "people", "h": "photos_per_person",
                 "c": "people_per_photo"}  # fmt: skip
        axes = {names[key]: ax for key, ax in mosaic.items()}
    fig.suptitle(title or f"{data['faces']} faces in {data['images']} photos ({data['error_documents']} errors)")
    _pyramid(axes["pyramid"], data, ages)
    _bars(axes["ages"], ages, [data["ages"][a] for a in ages], "Faces by age", "#5a9e6f")
    genders = [*GENDERS, UNKNOWN]
    _bars(
        axes["genders"],
        genders,
        [data["genders"][g] for g in genders],
        "Faces by gender",
        [COLOURS[g] for g in genders],
    )
    emotions = [e for e in data["emotions"] if e != UNKNOWN or data["emotions"][e]]
    _bars(
        axes["emotions"], emotions, [data["emotions"][e] for e in emotions], "Faces by emotion", "#e0a030", rotate=True
    )
    if people is not None:
        _pyramid(axes["people"], people, ages, f"People ({people['people']}): median age × gender")
        spread = people["photos_per_person"]["distribution"]
        _bars(axes["photos_per_person"], list(spread), list(spread.values()), "Photos per person", "#7b6bb0")
        per_photo = people["people_per_photo"]
        _bars(axes["people_per_photo"], list(per_photo), list(per_photo.values()), "People per photo", "#4a9aa8")
    return fig


def _pyramid(ax: Any, data: dict[str, Any], ages: list[str], title: str = "Age × gender (faces)") -> None:
    female = [data["pyramid"][a]["FEMALE"] for a in ages]
    male = [data["pyramid"][a]["MALE"] for a in ages]
    ax.barh(ages, [-v for v in female], color=COLOURS["FEMALE"], label="female")
    ax.barh(ages, male, color=COLOURS["MALE"], label="male")
    limit = max([*female, *male, 1])
    ax.set_xlim(-limit * 1.15, limit * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, symmetric=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{abs(int(value))}"))  # both sides count up
    ax.axvline(0, color="#333", linewidth=0.8)
    ax.set_title(title)
    ax.set_ylabel("age")
    ax.legend(loc="lower right")


def _bars(ax: Any, labels: list[str], values: list[int], title: str, colour: Any, rotate: bool = False) -> None:
    bars = ax.bar(labels, values, color=colour)
    ax.bar_label(bars, padding=2)
    ax.set_title(title)
    ax.set_ylim(0, max([*values, 1]) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if rotate:
        ax.tick_params(axis="x", labelrotation=30)


def render(
    report: StatsReport, fmt: str, totals: Totals | None = None, title: str = "", people: dict[str, Any] | None = None
) -> bytes:
    """The figure as ``png`` or ``svg`` bytes; ``people`` (the ``--by person`` figures) adds their row of charts."""
    fig = figure(report, totals, title, people)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "ossfaces"}):
        fig.savefig(buffer, format=fmt, dpi=100, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buffer.getvalue()
