"""Labelled faces: what a row of a labelled set says, the licence gate, and the generic manifest reader.

A :class:`LabelledFace` carries one of three kinds of age label, because the licensed sets hold all three:

- ``age``: an exact age (London, Canada: self-reported at the photo);
- ``age_bin``: an annotated bin such as ``20-29`` or ``70+`` (FairFace): the true age is somewhere inside;
- ``age_upper``: an upper bound only (Congress: age on the day the copy was made; the portrait may be years older).

How each kind is used (fit, figures) is decided in one place: :attr:`LabelledFace.age_range` gives the range of ages
and :attr:`LabelledFace.age_target` what the fit may use (none for an upper bound: it is a check, never a target),
and the figures in
:mod:`.evaluate` report each kind on its own terms.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ossfaces.vision.attributes import IMM_EMOTIONS

GENDERS = ("FEMALE", "MALE")
OPEN_BIN_TOP = 100.0
"""Upper end of an open bin (``70+``) where it may stay open (the spread's likelihood)."""
OPEN_BIN_SPAN = 15
"""Where an open bin's ages are assumed to lie where a bounded bin is needed (its middle, AgeSD coverage): ``70+`` is
read as 70-84. An assumption, stated wherever a figure uses it."""
EMOTION_ALIASES = {
    "angry": "ANGRY",
    "anger": "ANGRY",
    "neutral": "CALM",
    "calm": "CALM",
    "disgust": "DISGUSTED",
    "disgusted": "DISGUSTED",
    "happy": "HAPPY",
    "happiness": "HAPPY",
    "smiling": "HAPPY",
    "sad": "SAD",
    "sadness": "SAD",
    "fear": "SCARED",
    "fearful": "SCARED",
    "scared": "SCARED",
    "surprise": "SURPRISED",
    "surprised": "SURPRISED",
}
GENDER_ALIASES = {"f": "FEMALE", "female": "FEMALE", "woman": "FEMALE", "m": "MALE", "male": "MALE", "man": "MALE"}
_ALLOWED = re.compile(
    r"(CC0(-1\.0)?|PDM(-1\.0)?|PUBLIC-DOMAIN|CC-BY(-SA)?(-\d(\.\d)?)?|MIT|APACHE-2\.0)", flags=re.IGNORECASE
)
ALLOWED_LICENCES = "CC0-1.0, PDM-1.0 / public-domain, CC-BY-<v>, CC-BY-SA-<v>, MIT, Apache-2.0"
"""What shipped numbers may be fitted on and validated with. Anything NC, ND, research-only or unknown is refused."""


class ManifestError(ValueError):
    """A manifest row that cannot be read; the message names the file and the row."""


class LicenceRefused(ValueError):
    """The data's licence does not allow fitting or publishing the product's numbers with it."""


def licence_allowed(licence: str) -> bool:
    """True for the allow-list :data:`ALLOWED_LICENCES` (SPDX-like spellings, spaces or underscores as dashes)."""
    text = re.sub(r"[\s_]+", "-", licence.strip())
    return bool(_ALLOWED.fullmatch(text))


def require_allowed(faces: Iterable[LabelledFace], purpose: str) -> None:
    """``LicenceRefused`` naming every licence off the allow-list among ``faces``."""
    refused = sorted({f.licence or "(none)" for f in faces if not licence_allowed(f.licence)})
    if refused:
        raise LicenceRefused(
            f"refusing to {purpose}: licence {', '.join(repr(x) for x in refused)} is not in the allow-list"
            f" ({ALLOWED_LICENCES}). Research-only or non-commercial data must never fit or validate a shipped number."
        )


@dataclass(frozen=True)
class LabelledFace:
    """One labelled photo. ``age_bin`` is (low, high) inclusive, high ``None`` for an open bin like ``70+``.

    ``point``: a point inside the labelled face; ``centre``: the labelled face is the one nearest the photo's centre
    (FairFace's crops); neither: the largest face. ``person`` groups the photos of one person (cross-validation
    folds never split a person); empty means the photo is its own person.
    """

    path: Path
    licence: str
    split: str = ""
    dataset: str = ""
    age: float | None = None
    age_bin: tuple[int, int | None] | None = None
    age_upper: float | None = None
    gender: str | None = None
    group: str | None = None
    emotion: str | None = None
    point: tuple[float, float] | None = None
    centre: bool = False
    person: str = ""

    @property
    def age_range(self) -> tuple[float, float] | None:
        """The labelled age as a range of the written ``Age`` (whole years): exact ``a`` → ``[a-0.5, a+0.5]``, bin
        ``20-29`` → ``[19.5, 29.5]``, an open bin ``70+`` → ``[69.5, 84.5]`` (:data:`OPEN_BIN_SPAN`); None for an
        upper bound, which is a check, never a target."""
        if self.age is not None:
            return self.age - 0.5, self.age + 0.5
        if self.age_bin is not None:
            low, high = self.age_bin
            return low - 0.5, (low + OPEN_BIN_SPAN if high is None else high + 1) - 0.5
        return None

    @property
    def age_target(self) -> float | None:
        """The middle of :attr:`age_range`: the age an unbiased estimate reads on average."""
        r = self.age_range
        return None if r is None else (r[0] + r[1]) / 2

    @property
    def age_likelihood_range(self) -> tuple[float, float] | None:
        """:attr:`age_range` with an open bin left open (up to :data:`OPEN_BIN_TOP`): what the spread is fitted on."""
        r = self.age_range
        if r is None or self.age_bin is None or self.age_bin[1] is not None:
            return r
        return r[0], OPEN_BIN_TOP

    @property
    def person_key(self) -> str:
        return self.person or str(self.path)


def parse_age_bin(text: str) -> tuple[int, int | None]:
    """``20-29`` → (20, 29); ``70+`` and ``more than 70`` → (70, None)."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", t)
    if m and int(m.group(1)) <= int(m.group(2)):
        return int(m.group(1)), int(m.group(2))
    m = re.fullmatch(r"(\d+)\s*\+|more than (\d+)", t)
    if m:
        return int(m.group(1) or m.group(2)), None
    raise ValueError(f"not an age bin: {text!r}")


def bin_name(age_bin: tuple[int, int | None]) -> str:
    low, high = age_bin
    return f"{low}+" if high is None else f"{low}-{high}"


def gender_of(text: str) -> str | None:
    t = text.strip().lower()
    if not t:
        return None
    if t not in GENDER_ALIASES:
        raise ValueError(f"gender {t!r} is not one of {sorted(GENDER_ALIASES)}")
    return GENDER_ALIASES[t]


def emotion_of(text: str) -> str | None:
    t = text.strip().lower()
    if not t:
        return None
    if t.upper() in IMM_EMOTIONS:
        return t.upper()
    if t not in EMOTION_ALIASES:
        raise ValueError(f"emotion {t!r} is not an IMM name or one of {sorted(EMOTION_ALIASES)}")
    return EMOTION_ALIASES[t]


def _cell(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _row(row: Mapping[str, Any], base: Path, default_dataset: str) -> LabelledFace:
    path = _cell(row, "path")
    if not path:
        raise ValueError("no path")
    age_text, bin_text, upper_text = _cell(row, "age"), _cell(row, "age_bin"), _cell(row, "age_upper")
    x, y = _cell(row, "x"), _cell(row, "y")
    return LabelledFace(
        path=base / path,
        licence=_cell(row, "licence") or _cell(row, "license"),
        split=_cell(row, "split"),
        dataset=_cell(row, "dataset") or default_dataset,
        age=float(age_text) if age_text else None,
        age_bin=parse_age_bin(bin_text) if bin_text and not age_text else None,
        age_upper=float(upper_text) if upper_text and not age_text else None,
        gender=gender_of(_cell(row, "gender")),
        group=_cell(row, "group") or None,
        emotion=emotion_of(_cell(row, "emotion")),
        point=(float(x), float(y)) if x and y else None,
        centre=_cell(row, "match").lower() == "centre",
        person=_cell(row, "person"),
    )


def read_manifest(path: Path) -> list[LabelledFace]:
    """Every labelled face of a ``.csv`` or ``.jsonl`` manifest; ``ManifestError`` naming the row that is wrong.

    Columns: ``path`` (relative to the manifest's folder), ``age`` or ``age_bin`` or ``age_upper``, ``gender``,
    ``group``, ``emotion``, ``licence``, ``split``, optionally ``dataset``, ``person``, ``x``/``y`` and ``match``
    (``centre``). Empty cells mean "not labelled".
    """
    base = path.parent
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if path.suffix.lower() in (".jsonl", ".json"):
                rows = [json.loads(line) for line in fh if line.strip()]
            else:
                rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ManifestError(f"{path}: {exc.strerror or exc}") from exc
    out = []
    for number, row in enumerate(rows, start=1):
        try:
            out.append(_row(row, base, path.stem))
        except (ValueError, TypeError) as exc:
            raise ManifestError(f"{path}, row {number}: {exc}") from exc
    return out
