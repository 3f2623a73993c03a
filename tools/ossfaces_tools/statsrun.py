"""One ``ossfaces stats`` run: stream the results, aggregate, print the table, write the files asked for.

Sits above :mod:`ossfaces_tools.stats` (the numbers) and :mod:`ossfaces_tools.report` (their rendering), so that
neither of those imports the other's caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import oss2

from ossfaces_tools.access import BucketAccess, ToolError
from ossfaces_tools.index.layout import IndexStore
from ossfaces_tools.inventory import iter_objects, open_for
from ossfaces_tools.report import write_outputs
from ossfaces_tools.report.table import print_table
from ossfaces_tools.report.trust import trust_statement
from ossfaces_tools.stats import AgeBins, StatsAccumulator, collect, read_documents

if TYPE_CHECKING:
    from ossfaces_tools.people.faces import FaceTable
    from ossfaces_tools.people.state import PeopleState


def _people_state(bucket: oss2.Bucket, access: BucketAccess, prefix: str) -> tuple[PeopleState, FaceTable]:
    from ossfaces_tools.people.faces import FaceTable
    from ossfaces_tools.people.state import StateStore

    store = StateStore(bucket, prefix)
    if not store.exists():
        raise ToolError(
            f"--by person needs the people file oss://{access.bucket}/{store.key}: run `ossfaces people "
            f"{access.bucket}{' --prefix ' + prefix if prefix else ''}` first",
            usage=True,
        )
    state = store.load()
    return state, FaceTable(model=state.model)


def _also_into(faces: FaceTable, documents: Iterable[tuple[str, bytes | None]]) -> Iterator[tuple[str, bytes | None]]:
    """The same stream, each body also read into ``faces`` (one read of each result serves both views)."""
    for key, body in documents:
        if body is not None:
            faces.add_raw(key, body)
        yield key, body


@dataclass(frozen=True)
class StatsRequest:
    access: BucketAccess
    prefix: str = ""
    age_bins: str = "0,13,18,25,35,45,55,65"
    group_by_folder: int = 0
    workers: int = 16
    as_json: bool = False
    csv_path: str | None = None
    png_path: str | None = None
    html_path: str | None = None
    progress: bool = True
    by: str = "face"
    """``person``: also the figures with one vote per person (needs the people file of ``ossfaces people``)."""
    inventory: str | None = None
    """Scan the results an inventory report names instead of listing (``--inventory``)."""
    source: str = "auto"
    """``index``: the face index; ``scan``: read every result; ``auto``: the index when the prefix has one."""


def _from_index(
    store: IndexStore, accumulator: StatsAccumulator, state: PeopleState | None, request: StatsRequest, err: Any
) -> tuple[StatsAccumulator, FaceTable | None]:
    """The numbers from the face index (only the columns they need); faces for ``--by person`` from it too."""
    from ossfaces_tools.index.local import IndexReader
    from ossfaces_tools.index.query import index_stats
    from ossfaces_tools.people.faces import faces_from_index

    manifest = store.load()
    if manifest.generation == 0:
        raise ToolError(
            f"no face index under oss://{store.bucket.bucket_name}/{store.root}: run `ossfaces index` first"
        )
    with IndexReader(store, manifest) as reader:
        accumulator = index_stats(reader.con, accumulator.bins, accumulator.group_depth)
        faces = faces_from_index(reader.con, state.model) if state is not None else None
    err.print(f"from the face index (generation {manifest.generation}, committed {manifest.created}); "
              "`ossfaces index` brings it up to date", highlight=False)  # fmt: skip
    return accumulator, faces


def _scan(
    bucket: oss2.Bucket, suffix: str, request: StatsRequest, accumulator: StatsAccumulator, faces: FaceTable | None,
    bar: Any, task: Any,
) -> None:  # fmt: skip
    """Every result read (bounded window); each body also feeds ``faces`` for ``--by person``."""
    objects = None
    found = open_for(request.access, bucket, request.inventory)
    if found is not None:
        objects = iter_objects(found[0], found[1], request.prefix)
    with bar if request.progress else contextlib.nullcontext():  # a disabled bar still prints a blank line
        documents = read_documents(bucket, request.prefix, suffix, workers=request.workers, objects=objects)
        if faces is not None:
            documents = _also_into(faces, documents)
        collect(documents, accumulator, lambda: bar.advance(task))


def run_stats(request: StatsRequest, out: TextIO | None = None) -> int:
    """Stream, aggregate, write the outputs asked for. JSON goes to ``out`` (stdout), the table to stderr then."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out = out or sys.stdout
    access = request.access
    access.require_credentials()
    try:
        bins = AgeBins.parse(request.age_bins)
    except ValueError as exc:
        raise ToolError(str(exc), usage=True, param="--age-bins") from exc
    settings = access.settings()
    oss_bucket = access.open(settings)
    err = Console(stderr=True)
    accumulator = StatsAccumulator(bins, request.group_by_folder)
    bar = Progress(
        SpinnerColumn(), TextColumn("{task.completed} documents"), TimeElapsedColumn(), console=err,
        disable=not request.progress,
    )  # fmt: skip
    task = bar.add_task("stats", total=None)
    by_person = request.by == "person"
    state, faces = _people_state(oss_bucket, access, request.prefix) if by_person else (None, None)
    store = IndexStore(oss_bucket, request.prefix)
    use_index = request.source == "index" or (request.source == "auto" and not request.inventory and store.exists())
    try:
        if use_index:
            accumulator, faces = _from_index(store, accumulator, state, request, err)
        else:
            _scan(oss_bucket, settings.result_suffix, request, accumulator, faces, bar, task)
    except oss2.exceptions.OssError as exc:
        raise access.failure(exc, f"reading oss://{access.bucket}/{request.prefix}") from exc
    report = dataclasses.replace(accumulator.report(), prefix=request.prefix, bucket=access.bucket)
    report = dataclasses.replace(report, trust=trust_statement(report))
    people = None
    if state is not None and faces is not None:
        from ossfaces_tools.people.figures import people_figures
        from ossfaces_tools.people.model import summaries

        people = people_figures(state, faces, summaries(state, faces), bins)
    if request.as_json:
        data = report.to_dict()
        if people is not None:
            data["by_person"] = people
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        out.flush()
    console = err if request.as_json else Console(file=out)
    print_table(report, console)
    if people is not None:
        from ossfaces_tools.people.figures import print_people_figures

        print_people_figures(people, console)
    for path in write_outputs(
        report, people=people, csv_path=request.csv_path, png_path=request.png_path, html_path=request.html_path
    ):
        err.print(f"wrote {path}")
    return 0
