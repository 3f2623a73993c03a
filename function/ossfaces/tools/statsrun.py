"""One ``ossfaces stats`` run: stream the results, aggregate, print the table, write the files asked for.

Sits above :mod:`ossfaces.tools.stats` (the numbers) and :mod:`ossfaces.tools.report` (their rendering), so that
neither of those imports the other's caller.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import TextIO

import oss2

from ossfaces.tools.access import BucketAccess, ToolError
from ossfaces.tools.report import write_outputs
from ossfaces.tools.report.table import print_table
from ossfaces.tools.report.trust import trust_statement
from ossfaces.tools.stats import AgeBins, StatsAccumulator, collect, read_documents


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
    try:
        with bar:
            documents = read_documents(oss_bucket, request.prefix, settings.result_suffix, workers=request.workers)
            collect(documents, accumulator, lambda: bar.advance(task))
    except oss2.exceptions.OssError as exc:
        raise ToolError(
            f"reading oss://{access.bucket}/{request.prefix}: {exc.status} {exc.code}: {exc.message}"
        ) from exc
    report = dataclasses.replace(accumulator.report(), prefix=request.prefix, bucket=access.bucket)
    report = dataclasses.replace(report, trust=trust_statement(report))
    if request.as_json:
        out.write(report.to_json())
        out.flush()
    print_table(report, err if request.as_json else Console(file=out))
    for path in write_outputs(
        report, csv_path=request.csv_path, png_path=request.png_path, html_path=request.html_path
    ):
        err.print(f"wrote {path}")
    return 0
