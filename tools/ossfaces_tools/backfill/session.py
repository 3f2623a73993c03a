"""One ``ossfaces backfill`` session as the user asked for it: what to open, how to dispatch, the progress bar, the summary.

The command layer fills a :class:`BackfillRequest` from its flags and calls :func:`run_session`; this module builds the
bucket, engine tag and dispatcher, runs :class:`~ossfaces_tools.backfill.run.Backfill` and returns the exit status.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from typing import Any, TextIO

import oss2

from ossfaces.engines import engine_tag, make_engine
from ossfaces.errors import OssFacesError
from ossfaces.pipeline import Pipeline
from ossfaces.settings import Settings
from ossfaces.storage import open_bucket
from ossfaces_tools.access import BucketAccess, ToolError
from ossfaces_tools.backfill.checkpoint import Checkpoint
from ossfaces_tools.backfill.dispatch import Dispatcher, FcDispatcher, LocalDispatcher, fc_client
from ossfaces_tools.backfill.listing import Candidate, count_objects
from ossfaces_tools.backfill.pacing import estimate, inventory_rows
from ossfaces_tools.backfill.run import Backfill, Options, Summary
from ossfaces_tools.inventory import iter_objects, open_for


@dataclass(frozen=True)
class FcTarget:
    """The deployed function that ``fc2`` invokes asynchronously."""

    endpoint: str = ""
    service: str = ""
    function: str = ""
    qualifier: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.endpoint and self.service and self.function)


@dataclass(frozen=True)
class BackfillRequest:
    """Everything ``ossfaces backfill`` was asked to do, in four parts instead of 25 keyword arguments."""

    access: BucketAccess
    options: Options = field(default_factory=Options)
    fc: FcTarget = field(default_factory=FcTarget)
    local: bool = False
    engine_tag: str | None = None
    inventory: str | None = None
    """Objects from this inventory report (``--inventory``) instead of listing the bucket."""
    count: bool = True
    as_json: bool = False
    progress: bool = True


def open_dispatcher(request: BackfillRequest, settings: Settings, oss_bucket: oss2.Bucket) -> tuple[Dispatcher, str]:
    """The dispatcher the request asks for and the engine tag results must carry to be up to date."""
    try:
        engine = make_engine(settings) if (request.local or not request.engine_tag) else None
    except OssFacesError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc
    access = request.access
    if request.local:
        assert engine is not None
        pipeline = Pipeline(
            settings,
            engine,
            lambda name, reg: open_bucket(settings, access.credentials, name, reg),
            credentials=access.credentials,  # engine imm2 calls IMM with them
        )
        return LocalDispatcher(pipeline), request.engine_tag or engine_tag(engine)
    fc = request.fc
    client = (
        fc_client(fc.endpoint, access.access_key_id, access.access_key_secret, access.security_token)
        if fc.endpoint
        else None
    )
    dispatcher = FcDispatcher(client, fc.service, fc.function, fc.qualifier)
    if request.engine_tag:
        return dispatcher, request.engine_tag
    assert engine is not None
    return dispatcher, engine_tag(engine)


def run_session(request: BackfillRequest, out: TextIO | None = None) -> int:
    """Run the backfill; 0 when everything was handed over, 1 on failures, 3 when stopped early.

    The dry run's list and the JSON summary go to ``out`` (stdout), everything else to stderr.
    """
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    out = out or sys.stdout
    access, opts = request.access, request.options
    access.require_credentials()
    if not request.local and not opts.dry_run and not request.fc.complete:
        raise ToolError("--fc-endpoint, --service and --function are required (or --local, or --dry-run)", usage=True)
    err = Console(stderr=True)
    oss_bucket = access.open()
    settings = access.settings().model_copy(update={"oss_endpoint": oss_bucket.endpoint})
    dispatcher, tag = open_dispatcher(request, settings, oss_bucket)
    if opts.checkpoint is None:
        opts = Options(
            **{**opts.__dict__, "checkpoint": Checkpoint.default_path(access.bucket, opts.prefix, dispatcher.mode)}
        )
    assert opts.checkpoint is not None
    previous = None if (opts.restart or opts.dry_run) else Checkpoint.load(opts.checkpoint)
    if previous:
        err.print(
            f"resuming after {previous.after!r} ({len(previous.failed)} earlier failures to retry) from {opts.checkpoint}"
        )
    total, opts = _objects(request, oss_bucket, opts, previous, err)
    if total is not None:
        err.print(estimate(total, opts.rate, opts.batch, settings.engine), highlight=False)
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err, disable=not request.progress,
    )  # fmt: skip
    task = bar.add_task("backfill", total=total, status="")

    def report(event: str, candidate: Candidate | None, summary: Summary) -> None:
        scanned = runner.scanner.scanned if runner.scanner else 0
        bar.update(task, completed=scanned, status=f"sent {summary.dispatched} failed {summary.failed}")
        if event == "would-dispatch" and candidate:
            print(f"{candidate.verdict}\t{candidate.key}\t{candidate.reason}", file=out, flush=True)
        if event == "failed" and candidate:  # one line per failure, always with its reason
            err.print(
                f"[red]failed[/red] {escape(candidate.key)}: {escape(candidate.reason)}",
                highlight=False,
                soft_wrap=True,
            )
        if event == "waiting" and candidate and candidate.claim:
            err.print(
                f"waiting for {escape(candidate.claim.describe())}: {escape(candidate.key)}",
                highlight=False,
                soft_wrap=True,
            )

    runner = Backfill(oss_bucket, access.region, settings, tag, dispatcher, opts, report)

    def on_term(signum: int, frame: Any) -> None:
        runner.stop.set()

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        with bar:
            summary = runner.run()
            bar.update(task, completed=summary.scanned, total=total if total is not None else summary.scanned)
    except (ValueError, oss2.exceptions.OssError) as exc:
        raise ToolError(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, old)
    if isinstance(dispatcher, FcDispatcher):
        summary.invocations = dispatcher.invocations
    if isinstance(dispatcher, LocalDispatcher):
        summary.verdicts.update({f"local {k}": v for k, v in dispatcher.outcomes.items()})
    print_summary(err, summary)
    if request.as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False), file=out, flush=True)
    if summary.failed:
        return 1
    return 3 if summary.interrupted else 0


def _objects(
    request: BackfillRequest, bucket: oss2.Bucket, opts: Options, previous: Checkpoint | None, err: Any
) -> tuple[int | None, Options]:
    """How many objects the run looks at (for the bar and the estimate), and where they come from: the listing, or
    an inventory report (no listing at all: the first invocation leaves within seconds even for millions)."""
    after = previous.after if previous else None
    found = open_for(request.access, bucket, request.inventory)
    if found is None:
        return (count_objects(bucket, opts.prefix, after) if request.count else None), opts
    report_bucket, manifest = found
    if "Size" not in manifest.columns or "ETag" not in manifest.columns:
        raise ToolError(f"inventory oss://{manifest.bucket}/{manifest.key} has no Size or ETag column: add both "
                        "fields to the inventory rule (ossfaces inventory put does)")  # fmt: skip
    err.print(f"inventory oss://{manifest.bucket}/{manifest.key} ({manifest.objects_hint})", highlight=False)
    total = inventory_rows(report_bucket, manifest) if request.count else None
    return total, Options(**{**opts.__dict__, "objects": iter_objects(report_bucket, manifest, opts.prefix)})


def print_summary(console: Any, summary: Summary) -> None:
    from rich.table import Table

    table = Table(title="backfill" + (" (dry run)" if summary.dry_run else ""), show_header=False)
    rows = [
        ("scanned objects", summary.scanned),
        ("photos", summary.images),
        ("up to date", summary.up_to_date),
        ("skipped (guard)", summary.skipped),
        ("missing or stale", summary.to_do),
        (
            "would dispatch" if summary.dry_run else "dispatched",
            summary.to_do if summary.dry_run else summary.dispatched,
        ),
        ("failed", summary.failed),
        ("retried from checkpoint", summary.retried),
        ("claims waited for", summary.claims_waited),
        ("FC invocations", summary.invocations),
        ("elapsed", f"{summary.elapsed:.2f} s"),
        ("throughput", f"{summary.throughput:.1f} photos/s"),
    ]
    rows += [(name, value) for name, value in sorted(summary.verdicts.items())]
    for name, value in rows:
        table.add_row(name, str(value))
    if summary.interrupted:
        table.add_row("stopped early", "yes: run again to resume from the checkpoint")
    console.print(table)
