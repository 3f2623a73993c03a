"""The terminal view of a stats report (rich tables)."""

from __future__ import annotations

from typing import Any

from ossfaces_tools.report.trust import trust_statement
from ossfaces_tools.stats import UNKNOWN, StatsReport


def print_table(report: StatsReport, console: Any) -> None:
    """The terminal view: one summary row per group, then the overall distributions."""
    from rich.table import Table

    summary = Table(title=f"faces in oss://{report.bucket}/{report.prefix}")
    for column in ("group", "photos", "with faces", "faces", "female", "male", "unknown", "errors", "unreadable"):
        summary.add_column(column, justify="left" if column == "group" else "right")
    for name, totals in report.sections():
        summary.add_row(
            name,
            str(totals.images),
            str(totals.images_with_faces),
            str(totals.faces),
            str(totals.genders["FEMALE"]),
            str(totals.genders["MALE"]),
            str(totals.genders[UNKNOWN]),
            str(totals.error_documents),
            str(totals.unreadable),
        )
    console.print(summary)
    data = report.overall.to_dict(report.bins)
    ages = Table(title="age × gender (faces)")
    for column in ("age", "female", "male", "unknown", "all", "spread by AgeSD"):
        ages.add_column(column, justify="right")
    for age, by_gender in data["pyramid"].items():
        spread = data["ages_spread"].get(age)
        ages.add_row(
            age,
            *(str(v) for v in by_gender.values()),
            str(data["ages"][age]),
            "-" if spread is None else f"{spread:.1f}",
        )
    console.print(ages)
    emotions = Table(title="emotions (faces)")
    emotions.add_column("emotion")
    emotions.add_column("faces", justify="right")
    for emotion, value in data["emotions"].items():
        emotions.add_row(emotion, str(value))
    console.print(emotions)
    if data["errors"]:
        errors = Table(title="error documents by code")
        errors.add_column("code")
        errors.add_column("documents", justify="right")
        for code, value in data["errors"].items():
            errors.add_row(code, str(value))
        console.print(errors)
    for line in (report.trust or trust_statement(report))["lines"]:
        console.print(line, markup=False, highlight=False)
