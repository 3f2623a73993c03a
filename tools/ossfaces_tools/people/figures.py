"""``ossfaces stats --by person``: the statistics with one vote per person instead of one per face.

A person's age is the median of their faces' ages (each at the photo's time); their gender the confidence-weighted
vote of their faces. Beside them: how many photos each person is in, and how many people each photo shows.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from ossfaces_tools.people.faces import FaceTable
from ossfaces_tools.people.model import PersonSummary
from ossfaces_tools.people.state import PeopleState
from ossfaces_tools.stats import GENDERS, UNKNOWN, AgeBins

PHOTO_COUNT_BINS = ((1, 1, "1"), (2, 4, "2-4"), (5, 9, "5-9"), (10, 99, "10-99"), (100, 10**12, "100+"))
PEOPLE_PER_PHOTO = ("0", "1", "2", "3", "4+")


def people_figures(state: PeopleState, table: FaceTable, people: list[PersonSummary], bins: AgeBins) -> dict[str, Any]:
    counted = [p for p in people if p.faces]
    genders = Counter(p.gender or UNKNOWN for p in counted)
    ages: Counter[str] = Counter()
    pyramid: Counter[tuple[str, str]] = Counter()
    for p in counted:
        age = bins.labels[bins.index(round(p.age_median))] if p.age_median is not None else UNKNOWN
        ages[age] += 1
        pyramid[(age, p.gender or UNKNOWN)] += 1
    photo_counts = [p.photos for p in counted]
    per_photo: Counter[str] = Counter()
    for photo in range(len(table.keys)):
        entry = state.photos.get(table.keys[photo])
        persons = {pid for pid in entry.faces if pid is not None} if entry else set()
        per_photo[str(len(persons)) if len(persons) < 4 else "4+"] += 1
    age_labels = [*bins.labels, UNKNOWN]
    gender_labels = [*GENDERS, UNKNOWN]
    return {
        "people": len(counted),
        "faces_with_person": sum(p.faces for p in counted),
        "faces_without_person": len(table) - sum(p.faces for p in counted),
        "genders": {g: genders[g] for g in gender_labels},
        "ages": {a: ages[a] for a in age_labels},
        "pyramid": {a: {g: pyramid[(a, g)] for g in gender_labels} for a in age_labels},
        "photos_per_person": {
            "distribution": {label: sum(lo <= n <= hi for n in photo_counts) for lo, hi, label in PHOTO_COUNT_BINS},
            "mean": round(statistics.fmean(photo_counts), 2) if photo_counts else 0,
            "median": statistics.median(photo_counts) if photo_counts else 0,
            "max": max(photo_counts, default=0),
        },
        "people_per_photo": {label: per_photo[label] for label in PEOPLE_PER_PHOTO},
    }


def print_people_figures(figures: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    summary = Table(title=f"people: {figures['people']} distinct ({figures['faces_with_person']} faces with a person, "
                          f"{figures['faces_without_person']} without)")  # fmt: skip
    for column in ("age (median per person)", "female", "male", "unknown", "people"):
        summary.add_column(column, justify="right")
    for age, by_gender in figures["pyramid"].items():
        summary.add_row(age, *(str(v) for v in by_gender.values()), str(figures["ages"][age]))
    console.print(summary)
    spread = Table(title="photos per person · people per photo")
    spread.add_column("photos")
    spread.add_column("people", justify="right")
    spread.add_column("people in photo")
    spread.add_column("photos", justify="right")
    left = list(figures["photos_per_person"]["distribution"].items())
    right = list(figures["people_per_photo"].items())
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ("", "")
        b = right[i] if i < len(right) else ("", "")
        spread.add_row(str(a[0]), str(a[1]), str(b[0]), str(b[1]))
    console.print(spread)
