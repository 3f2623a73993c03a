"""Adapters for the licensed labelled sets (``shared/data/licensed-faces/``): each set's ``labels.csv`` → faces.

Each set lives in its own folder with ``labels.csv`` (``file`` relative to the folder, a ``split`` column: ``fit`` /
``holdout``, by person). What each adapter reads, and how its labels are used:

- ``fairface540`` (CC BY 4.0): ``age_bin``, ``gender``, ``race`` → an age *bin* (the fit pulls estimates into it; the
  figures count the right bin and the distance to it), gender, race as the group. The labelled face is the one
  nearest the photo's centre (the crops are centred on it; other faces may show at the edges).
- ``london`` (CC BY 4.0): ``age`` (exact; two rows have none), ``gender``, ``ethnicity``, ``expression``: neutral →
  CALM, smiling → HAPPY. Each person appears twice (neutral and smiling): the person is the file's number, so a
  cross-validation fold never holds one of the pair without the other.
- ``canada`` (CC BY 4.0): ``age`` (exact), ``gender``.
- ``congress`` (photos public domain, labels CC0): ``gender`` and ``birthday`` → the age on the day the copy was made
  (2015-04-29) as an **upper bound** (``age_upper``): the portraits are older than that by an unknown number of years.
  Used for gender, and for age only as a check of the old bands' bias direction, never as a target of the fit.

:data:`SETS` also holds each set's licence, source and the attribution its licence asks for: the fitter copies them
into ``calibration.json``'s ``data`` block, and NOTICE is generated from that block.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ossfaces_tools.calibration.labels import LabelledFace, ManifestError, emotion_of, gender_of, parse_age_bin

CONGRESS_COPY_DATE = date(2015, 4, 29)
"""The day the Congress portraits were copied (the data README): ages on that day are upper bounds."""
SPLITS = ("fit", "holdout")


@dataclass(frozen=True)
class LabelledSet:
    """One licensed set: where it came from, under which licence, what its licence asks us to say."""

    name: str
    licence: str
    """SPDX-like, checked by the allow-list; for Congress the photos' licence (the labels are CC0)."""
    licence_text: str
    source: str
    attribution: str
    row: Callable[[Mapping[str, str], Path], LabelledFace]


def _fairface(row: Mapping[str, str], folder: Path) -> LabelledFace:
    return LabelledFace(
        path=folder / row["file"],
        licence="CC-BY-4.0",
        split=row["split"],
        dataset="fairface540",
        age_bin=parse_age_bin(row["age_bin"]),
        gender=gender_of(row["gender"]),
        group=row["race"] or None,
        centre=True,
    )


def _london(row: Mapping[str, str], folder: Path) -> LabelledFace:
    file = row["file"]
    return LabelledFace(
        path=folder / file,
        licence="CC-BY-4.0",
        split=row["split"],
        dataset="london",
        age=float(row["age"]) if row["age"].strip() else None,
        gender=gender_of(row["gender"]),
        group=row["ethnicity"] or None,
        emotion=emotion_of(row["expression"]),
        person=Path(file).name.split("_")[0],
    )


def _canada(row: Mapping[str, str], folder: Path) -> LabelledFace:
    return LabelledFace(
        path=folder / row["file"],
        licence="CC-BY-4.0",
        split=row["split"],
        dataset="canada",
        age=float(row["age"]),
        gender=gender_of(row["gender"]),
    )


def age_on(birthday: date, day: date) -> float:
    """Whole years of age on ``day``."""
    return float(day.year - birthday.year - ((day.month, day.day) < (birthday.month, birthday.day)))


def _congress(row: Mapping[str, str], folder: Path) -> LabelledFace:
    return LabelledFace(
        path=folder / row["file"],
        licence="public-domain",
        split=row["split"],
        dataset="congress",
        age_upper=age_on(date.fromisoformat(row["birthday"]), CONGRESS_COPY_DATE),
        gender=gender_of(row["gender"]),
    )


SETS: dict[str, LabelledSet] = {
    s.name: s
    for s in (
        LabelledSet(
            "fairface540",
            "CC-BY-4.0",
            "CC BY 4.0",
            "thlaiquid-ai/demographic-test-images @ 3225e93be734 (fairface/), labels matched to FairFace's"
            " fairface_label_train.csv",
            "Kärkkäinen, K. & Joo, J. (2021). FairFace: Face Attribute Dataset for Balanced Race, Gender, and Age."
            " WACV. CC BY 4.0.",
            _fairface,
        ),
        LabelledSet(
            "london",
            "CC-BY-4.0",
            "CC BY 4.0",
            "debruine/webmorphR.stim @ fa8b78fda2d6 (inst/neutral_front, inst/smiling_front, data-raw/london_info.csv)",
            "DeBruine, L. & Jones, B. (2017). Face Research Lab London Set. figshare."
            " doi:10.6084/m9.figshare.5047666.v5. CC BY 4.0. (Images resized to half size.)",
            _london,
        ),
        LabelledSet(
            "canada",
            "CC-BY-4.0",
            "CC BY 4.0",
            "debruine/webmorphR.stim @ fa8b78fda2d6 (inst/canada, data-raw/canada_info.csv)",
            "DeBruine, L. (2016). Young Adult White Faces with Manipulated Versions. figshare."
            " doi:10.6084/m9.figshare.4220517.v1. CC BY 4.0. (Images resized to half size.)",
            _canada,
        ),
        LabelledSet(
            "congress",
            "public-domain",
            "photos public domain (US Government Printing Office); birthdays and gender CC0",
            "Hainish/congress-images-225x275 @ 20531e981f99 (images/), labels from unitedstates/congress-legislators"
            " @ 8112283f",
            "US Congress portraits: US Government Printing Office, public domain; legislators data:"
            " unitedstates/congress-legislators, CC0.",
            _congress,
        ),
    )
}


def read_set(name: str, root: Path) -> list[LabelledFace]:
    """The faces of one set under ``root`` (the folder holding the sets); ``ManifestError`` naming what is wrong."""
    if name not in SETS:
        raise ManifestError(f"unknown set {name!r}: one of {', '.join(SETS)}")
    folder = root / name
    labels = folder / "labels.csv"
    try:
        with labels.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ManifestError(f"{labels}: {exc.strerror or exc} (is {root} the licensed-faces folder?)") from exc
    out = []
    for number, row in enumerate(rows, start=1):
        try:
            face = SETS[name].row(row, folder)
        except (KeyError, ValueError) as exc:
            raise ManifestError(f"{labels}, row {number}: {exc!r}") from exc
        if face.split not in SPLITS:
            raise ManifestError(f"{labels}, row {number}: split {face.split!r} is not one of {SPLITS}")
        out.append(face)
    return out


def read_sets(root: Path, names: Iterable[str] = tuple(SETS)) -> list[LabelledFace]:
    """The faces of several sets, in the order named."""
    return [face for name in names for face in read_set(name, root)]
