"""``ossfaces stats``: the age / gender / emotion statistics the product exists for, over every result under a prefix.

Two halves on purpose (the rendering is in :mod:`ossfaces_tools.report`, the command in :mod:`ossfaces_tools.commands.stats`). ``StatsAccumulator`` is pure (documents in, totals out) so every total is tested exactly; it
keeps only counters, never documents. ``read_documents`` streams result bodies from OSS through a bounded thread pool
(at most ``window`` bodies in memory), so the same command works on ten photos or ten million.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import oss2
from pydantic import ValidationError

from ossfaces.document import EMOTIONS, FacesDocument

DEFAULT_AGE_BINS = (0, 13, 18, 25, 35, 45, 55, 65)
GENDERS = ("FEMALE", "MALE")
UNKNOWN = "UNKNOWN"
ALL = "(all)"
ROOT = "(root)"


class AgeBins:
    """Half-open age ranges from ascending edges: ``0,13,18`` → ``0-12``, ``13-17``, ``18+``."""

    def __init__(self, edges: Iterable[int] = DEFAULT_AGE_BINS) -> None:
        self.edges = tuple(int(edge) for edge in edges)
        if not self.edges or any(b <= a for a, b in pairwise(self.edges)) or self.edges[0] < 0:
            raise ValueError(f"age bins must be ascending non-negative integers, got {self.edges}")
        labels = [f"<{self.edges[0]}"] if self.edges[0] > 0 else []
        labels += [f"{a}-{b - 1}" for a, b in pairwise(self.edges)]
        labels.append(f"{self.edges[-1]}+")
        self.labels = tuple(labels)

    @classmethod
    def parse(cls, text: str) -> AgeBins:
        return cls(int(part) for part in text.split(",") if part.strip())

    def index(self, age: int) -> int:
        position = bisect.bisect_right(self.edges, age)
        return position if self.edges[0] > 0 else position - 1

    def spread(self, age: int, sd: float | None) -> dict[str, float]:
        """One face's share of each bin: the mass of N(age + 0.5, sd) in each bin's years (ages are whole years,
        so a written 30 stands for [30, 31)); all in the face's own bin when ``sd`` is missing or 0."""
        if not sd or sd <= 0:
            return {self.labels[self.index(age)]: 1.0}
        inner = self.edges if self.edges[0] > 0 else self.edges[1:]  # one bound between each two labels
        bounds = [-math.inf, *inner, math.inf]
        cdf = [0.5 * (1 + math.erf((b - age - 0.5) / (sd * math.sqrt(2)))) for b in bounds]
        return {label: hi - lo for label, (lo, hi) in zip(self.labels, pairwise(cdf), strict=True) if hi > lo}


@dataclass
class Totals:
    """Counters for one group of photos. ``images`` counts analysed photos; error documents are counted apart."""

    documents: int = 0
    images: int = 0
    images_with_faces: int = 0
    faces: int = 0
    genders: Counter[str] = field(default_factory=Counter)
    ages: Counter[str] = field(default_factory=Counter)
    pyramid: Counter[tuple[str, str]] = field(default_factory=Counter)
    emotions: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0
    engines: Counter[str] = field(default_factory=Counter)
    """Analysed documents (error documents hold no figures) per ``Engine.Name/Engine.Version``: which engine (and
    calibration) made the numbers; answers of the local stack's ``imm/detectface`` stand-in add
    `` via local/<version>``, the local engine that made them."""
    ages_spread: dict[str, float] = field(default_factory=dict)
    """Faces per age bin with each face spread over the bins by its ``AgeSD`` (normal), a point where it has none."""

    @property
    def error_documents(self) -> int:
        return sum(self.errors.values())

    def add(self, document: FacesDocument, bins: AgeBins) -> None:
        self.documents += 1
        if document.Error is not None:
            self.errors[document.Error.Code] += 1
            return
        stand_in = (document.model_extra or {}).get("LocalStandIn")
        engine = f"{document.Engine.Name}/{document.Engine.Version}"
        self.engines[f"{engine} via {stand_in}" if isinstance(stand_in, str) else engine] += 1
        self.images += 1
        if document.Faces:
            self.images_with_faces += 1
        for face in document.Faces:
            self.faces += 1
            gender = face.Gender.upper() if face.Gender and face.Gender.upper() in GENDERS else UNKNOWN
            age = bins.labels[bins.index(face.Age)] if face.Age is not None and face.Age >= 0 else UNKNOWN
            emotion = face.Emotion.upper() if face.Emotion else UNKNOWN
            self.genders[gender] += 1
            self.ages[age] += 1
            self.pyramid[(age, gender)] += 1
            self.emotions[emotion] += 1
            if face.Age is not None and face.Age >= 0:
                for label, share in bins.spread(face.Age, face.AgeSD).items():
                    self.ages_spread[label] = self.ages_spread.get(label, 0.0) + share

    def to_dict(self, bins: AgeBins) -> dict[str, Any]:
        """Every category present, even at zero, so outputs of different runs line up."""
        age_labels = [*bins.labels, UNKNOWN]
        genders = [*GENDERS, UNKNOWN]
        emotions = [*EMOTIONS, *sorted(set(self.emotions) - set(EMOTIONS) - {UNKNOWN}), UNKNOWN]
        return {
            "documents": self.documents,
            "images": self.images,
            "images_with_faces": self.images_with_faces,
            "faces": self.faces,
            "error_documents": self.error_documents,
            "unreadable": self.unreadable,
            "genders": {g: self.genders[g] for g in genders},
            "ages": {a: self.ages[a] for a in age_labels},
            "pyramid": {a: {g: self.pyramid[(a, g)] for g in genders} for a in age_labels},
            "emotions": {e: self.emotions[e] for e in emotions},
            "errors": dict(sorted(self.errors.items())),
            "engines": dict(sorted(self.engines.items())),
            "ages_spread": {a: round(self.ages_spread.get(a, 0.0), 3) for a in bins.labels},
        }


def folder_of(key: str, depth: int) -> str:
    """The first ``depth`` folders of a key (``a/b/c.jpg``, 1 → ``a``); a key with fewer folders gives all it has."""
    folders = key.split("/")[:-1][:depth]
    return "/".join(folders) or ROOT


class StatsAccumulator:
    """Documents in, totals out; overall and, with ``group_depth``, per folder. Holds counters only."""

    def __init__(self, bins: AgeBins | None = None, group_depth: int = 0) -> None:
        self.bins = bins or AgeBins()
        self.group_depth = group_depth
        self.overall = Totals()
        self.groups: dict[str, Totals] = {}

    def add(self, key: str, document: FacesDocument) -> None:
        """``key`` is the photo's key (the result's key without its suffix); it places the document in its folder."""
        self.overall.add(document, self.bins)
        if self.group_depth:
            self.groups.setdefault(folder_of(key, self.group_depth), Totals()).add(document, self.bins)

    def add_raw(self, key: str, body: bytes) -> None:
        """A result body as read from OSS; one that is not a valid document is counted as unreadable."""
        try:
            document = FacesDocument.model_validate_json(body)
        except (ValidationError, ValueError):
            self.overall.unreadable += 1
            if self.group_depth:
                self.groups.setdefault(folder_of(key, self.group_depth), Totals()).unreadable += 1
            return
        self.add(key, document)

    def report(self) -> StatsReport:
        return StatsReport(
            self.bins, self.overall, dict(sorted(self.groups.items())) if self.group_depth else {}, self.group_depth
        )


@dataclass(frozen=True)
class StatsReport:
    bins: AgeBins
    overall: Totals
    groups: dict[str, Totals]
    group_depth: int = 0
    prefix: str = ""
    bucket: str = ""
    trust: dict[str, Any] | None = None
    """What the numbers can be trusted for (``ossfaces_tools.report.trust``): set by the command, kept in JSON."""

    def sections(self) -> list[tuple[str, Totals]]:
        return [(ALL, self.overall), *self.groups.items()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "age_bins": list(self.bins.edges),
            "overall": self.overall.to_dict(self.bins),
            "group_by_folder": self.group_depth,
            "groups": {name: totals.to_dict(self.bins) for name, totals in self.groups.items()},
            **({"trust": self.trust} if self.trust is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self) -> str:
        """Long format, one number per row: ``group,metric,category,gender,value`` (easy to pivot in any tool)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", "metric", "category", "gender", "value"])
        for name, totals in self.sections():
            data = totals.to_dict(self.bins)
            for metric in ("documents", "images", "images_with_faces", "faces", "error_documents", "unreadable"):
                writer.writerow([name, metric, "", "", data[metric]])
            for metric in ("genders", "ages", "emotions", "errors", "engines"):
                for category, value in data[metric].items():
                    writer.writerow([name, metric, category, "", value])
            for age, by_gender in data["pyramid"].items():
                for gender, value in by_gender.items():
                    writer.writerow([name, "pyramid", age, gender, value])
        return out.getvalue()


# --------------------------------------------------------------------------------------------------- reading OSS


def read_documents(
    bucket: oss2.Bucket, prefix: str, suffix: str, workers: int = 16, window: int | None = None,
    objects: Iterable[Any] | None = None,
) -> Iterator[tuple[str, bytes | None]]:  # fmt: skip
    """``(photo key, result body)`` for every result under ``prefix``, in listing order; None if it vanished meanwhile.

    At most ``window`` reads are in flight or waiting to be consumed, so memory does not grow with the bucket.
    ``objects`` (anything with ``.key``: an inventory report's rows) replaces the listing.
    """
    window = window or workers * 4
    pending: deque[tuple[str, Future[bytes | None]]] = deque()

    def fetch(key: str) -> bytes | None:
        for attempt in range(3):
            try:
                body: bytes = bucket.get_object(key).read()
                return body
            except oss2.exceptions.NoSuchKey:
                return None
            except (oss2.exceptions.RequestError, oss2.exceptions.ServerError) as exc:
                if attempt == 2 or (isinstance(exc, oss2.exceptions.ServerError) and exc.status < 500):
                    raise
        return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats") as pool:
        listing = objects if objects is not None else oss2.ObjectIteratorV2(bucket, prefix=prefix, max_keys=1000)
        for info in listing:
            if not info.key.endswith(suffix):
                continue
            pending.append((info.key[: -len(suffix)], pool.submit(fetch, info.key)))
            if len(pending) >= window:
                key, future = pending.popleft()
                yield key, future.result()
        while pending:
            key, future = pending.popleft()
            yield key, future.result()


def collect(
    documents: Iterable[tuple[str, bytes | None]], accumulator: StatsAccumulator, on_document: Any = None
) -> StatsAccumulator:
    """Feed streamed bodies into the accumulator; ``on_document()`` is called per body (progress)."""
    for key, body in documents:
        if body is not None:
            accumulator.add_raw(key, body)
        if on_document:
            on_document()
    return accumulator
