"""``ossfaces stats``: the age / gender / emotion statistics the product exists for, over every result under a prefix.

Two halves on purpose. ``StatsAccumulator`` is pure (documents in, totals out) so every total is tested exactly; it
keeps only counters, never documents. ``read_documents`` streams result bodies from OSS through a bounded thread pool
(at most ``window`` bodies in memory), so the same command works on ten photos or ten million.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
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

    @property
    def error_documents(self) -> int:
        return sum(self.errors.values())

    def add(self, document: FacesDocument, bins: AgeBins) -> None:
        self.documents += 1
        if document.Error is not None:
            self.errors[document.Error.Code] += 1
            return
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
            for metric in ("genders", "ages", "emotions", "errors"):
                for category, value in data[metric].items():
                    writer.writerow([name, metric, category, "", value])
            for age, by_gender in data["pyramid"].items():
                for gender, value in by_gender.items():
                    writer.writerow([name, "pyramid", age, gender, value])
        return out.getvalue()


# --------------------------------------------------------------------------------------------------- reading OSS


def read_documents(
    bucket: oss2.Bucket, prefix: str, suffix: str, workers: int = 16, window: int | None = None
) -> Iterator[tuple[str, bytes | None]]:
    """``(photo key, result body)`` for every result under ``prefix``, in listing order; None if it vanished meanwhile.

    At most ``window`` reads are in flight or waiting to be consumed, so memory does not grow with the bucket.
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
        for info in oss2.ObjectIteratorV2(bucket, prefix=prefix, max_keys=1000):
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


# --------------------------------------------------------------------------------------------------- the command


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
    for column in ("age", "female", "male", "unknown", "all"):
        ages.add_column(column, justify="right")
    for age, by_gender in data["pyramid"].items():
        ages.add_row(age, *(str(v) for v in by_gender.values()), str(data["ages"][age]))
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


def run_command(
    *,
    bucket: str,
    prefix: str,
    region: str,
    oss_endpoint: str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str,
    age_bins: str,
    group_by_folder: int,
    workers: int,
    as_json: bool,
    csv_path: str | None,
    png_path: str | None,
    html_path: str | None,
    progress: bool,
) -> int:
    """``ossfaces stats``: stream, aggregate, write the outputs asked for. JSON goes to stdout, the table to stderr then."""
    from pathlib import Path

    import click
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ossfaces.backfill import tool_bucket
    from ossfaces.settings import Settings

    if not access_key_id or not access_key_secret:
        raise click.UsageError(
            "credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET or pass --access-key-id/--access-key-secret"
        )
    try:
        bins = AgeBins.parse(age_bins)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--age-bins") from exc
    settings = Settings()
    if oss_endpoint:
        settings = settings.model_copy(update={"oss_endpoint": oss_endpoint})
    oss_bucket = tool_bucket(settings, bucket, region, access_key_id, access_key_secret, security_token)
    err = Console(stderr=True)
    accumulator = StatsAccumulator(bins, group_by_folder)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} documents"),
        TimeElapsedColumn(),
        console=err,
        disable=not progress,
    )
    task = bar.add_task("stats", total=None)
    try:
        with bar:
            collect(
                read_documents(oss_bucket, prefix, settings.result_suffix, workers=workers),
                accumulator,
                lambda: bar.advance(task),
            )
    except oss2.exceptions.OssError as exc:
        raise click.ClickException(f"reading oss://{bucket}/{prefix}: {exc.status} {exc.code}: {exc.message}") from exc
    report = accumulator.report()
    report = StatsReport(report.bins, report.overall, report.groups, report.group_depth, prefix, bucket)
    if as_json:
        click.echo(report.to_json(), nl=False)
    print_table(report, err if as_json else Console())
    if csv_path:
        Path(csv_path).write_text(report.to_csv(), encoding="utf-8")
        err.print(f"wrote {csv_path}")
    if png_path:
        from ossfaces.report.charts import render

        Path(png_path).write_bytes(render(report, "png"))
        err.print(f"wrote {png_path}")
    if html_path:
        from ossfaces.report.html import render_html

        Path(html_path).write_text(render_html(report), encoding="utf-8")
        err.print(f"wrote {html_path}")
    return 0
