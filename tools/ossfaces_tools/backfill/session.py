"""One ``ossfaces backfill`` session as the user asked for it: what to open, how to dispatch, the progress bar, the summary.

The command layer fills a :class:`BackfillRequest` from its flags and calls :func:`run_session`; this module builds the
bucket, engine tag and dispatcher, runs :class:`~ossfaces_tools.backfill.run.Backfill` and returns the exit status.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

import oss2

from ossfaces.engines import engine_tag, make_engine
from ossfaces.errors import ConfigError, OssFacesError
from ossfaces.pipeline import Pipeline
from ossfaces.settings import Settings
from ossfaces.storage import open_bucket
from ossfaces_tools.access import BucketAccess, ToolError, check_reachable, explain, network_failure
from ossfaces_tools.backfill.checkpoint import Checkpoint
from ossfaces_tools.backfill.dispatch import Dispatcher, FcDispatcher, LocalDispatcher, fc_client
from ossfaces_tools.backfill.listing import Candidate, count_objects
from ossfaces_tools.backfill.pacing import estimate, inventory_rows
from ossfaces_tools.backfill.run import Backfill, Options, Summary
from ossfaces_tools.inventory import iter_objects, open_for

VERDICT_WORDS = {
    "missing": "  of which without a result",
    "stale-source": "  of which the photo changed",
    "stale-engine": "  of which by another engine version",
}
"""The listing's verdicts as the summary table says them ("up to date" and "skipped" have their own rows)."""
LOCAL_WORDS = {"processed": "processed here", "error-document": "error documents written here",
               "skipped": "skipped by the function's guard"}  # fmt: skip


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


class StopOnSystemic:
    """A dispatcher that stops the run at the first failure every photo would meet (FC or OSS out of reach, keys
    refused, no such function, a configuration the function refuses): one line for it, not one per photo."""

    def __init__(self, inner: Dispatcher, access: BucketAccess, fc_endpoint: str) -> None:
        self.inner, self.mode = inner, inner.mode
        self.access, self.fc_endpoint = access, fc_endpoint
        self.stop = threading.Event()
        self.fatal: str | None = None

    def dispatch(self, records: list[Any]) -> None:
        try:
            self.inner.dispatch(records)
        except Exception as exc:
            line = self.systemic(exc)
            if line is not None and self.fatal is None:
                self.fatal = line
                self.stop.set()
            raise

    def systemic(self, exc: BaseException) -> str | None:
        import fc2

        cause = exc.__cause__
        if isinstance(exc, ConfigError):
            return f"{exc.code}: {exc.message}"
        if isinstance(cause, fc2.fc_exceptions.FcError) and cause.status_code in (401, 403, 404):
            return explain(cause, self.access, self.fc_endpoint)
        if network_failure(exc) is not None:
            return explain(exc, self.access, self.fc_endpoint)
        return None


def run_session(request: BackfillRequest, out: TextIO | None = None) -> int:
    """Run the backfill; 0 when everything was handed over, 1 on failures, 3 when stopped early.

    The dry run's list and the JSON summary go to ``out`` (stdout), everything else to stderr.
    """
    import sys

    from rich.console import Console

    out = out or sys.stdout
    access = request.access
    check_request(request)
    err = Console(stderr=True)
    oss_bucket = access.open()
    settings = access.settings().model_copy(update={"oss_endpoint": oss_bucket.endpoint})
    inner, tag = open_dispatcher(request, settings, oss_bucket)
    dispatcher = StopOnSystemic(inner, access, request.fc.endpoint)
    opts = with_checkpoint(request.options, access.bucket, dispatcher.mode)
    previous = None if (opts.restart or opts.dry_run) else Checkpoint.load(opts.checkpoint)  # type: ignore[arg-type]
    if previous:
        err.print(
            f"resuming after {previous.after!r} ({len(previous.failed)} earlier failures to retry) from {opts.checkpoint}"
        )
    total, opts = _objects(request, oss_bucket, opts, previous, err)
    if total is not None:
        err.print(estimate(total, opts.rate, opts.batch, settings.engine), highlight=False)
    bar = Bar(err, total, request.progress)
    runner = Backfill(oss_bucket, access.region, settings, tag, dispatcher, opts, bar.reporter(out, dispatcher))
    bar.runner = runner
    dispatcher.stop = runner.stop
    old = signal.signal(signal.SIGTERM, lambda signum, frame: runner.stop.set())
    try:
        with bar.shown():
            summary = runner.run()
            bar.done(summary.scanned)
    except oss2.exceptions.OssError as exc:
        raise access.failure(exc, f"listing oss://{access.bucket}/{opts.prefix}") from exc
    except ValueError as exc:
        raise ToolError(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, old)
    if dispatcher.fatal is not None:
        raise ToolError(f"{dispatcher.fatal} (stopped; what was not handed over is kept in {opts.checkpoint})")
    return finish(summary, inner, err, out if request.as_json else None)


def check_request(request: BackfillRequest) -> None:
    """What no listing can fix, refused before any: credentials, an FC target, FC out of reach."""
    request.access.require_credentials()
    if request.local or request.options.dry_run:
        return
    if not request.fc.complete:
        raise ToolError(
            "--fc-endpoint, --service and --function are required (or --local for `ossfaces up`'s FC, --in-process, "
            "or --dry-run)",
            usage=True,
        )
    check_reachable(request.fc.endpoint, "FC", "--fc-endpoint")


def with_checkpoint(opts: Options, bucket: str, mode: str) -> Options:
    if opts.checkpoint is not None:
        return opts
    return Options(**{**opts.__dict__, "checkpoint": Checkpoint.default_path(bucket, opts.prefix, mode)})


class Bar:
    """The progress bar on stderr, and the lines the run reports beside it (failures, waits, the dry run's list)."""

    def __init__(self, err: Any, total: int | None, progress: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.err, self.total, self.enabled = err, total, progress
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=err, disable=not progress,
        )  # fmt: skip
        self.task = self.progress.add_task("backfill", total=total, status="")
        self.runner: Backfill | None = None

    def shown(self) -> Any:
        return self.progress if self.enabled else contextlib.nullcontext()  # a disabled bar still prints a blank line

    def done(self, scanned: int) -> None:
        self.progress.update(self.task, completed=scanned, total=self.total if self.total is not None else scanned)

    def reporter(self, out: TextIO, dispatcher: StopOnSystemic) -> Any:
        from rich.markup import escape

        def report(event: str, candidate: Candidate | None, summary: Summary) -> None:
            scanner = self.runner.scanner if self.runner else None
            status = f"sent {summary.dispatched} failed {summary.failed}"
            self.progress.update(self.task, completed=scanner.scanned if scanner else 0, status=status)
            if event == "would-dispatch" and candidate:
                print(f"{candidate.verdict}\t{candidate.key}\t{candidate.reason}", file=out, flush=True)
            if event == "failed" and candidate and dispatcher.fatal is None:  # one line per failure, with its reason
                self.line(f"[red]failed[/red] {escape(candidate.key)}: {escape(candidate.reason)}")
            if event == "waiting" and candidate and candidate.claim:
                self.line(f"waiting for {escape(candidate.claim.describe())}: {escape(candidate.key)}")

        return report

    def line(self, text: str) -> None:
        self.err.print(text, highlight=False, soft_wrap=True)


def finish(summary: Summary, inner: Dispatcher, err: Any, out: TextIO | None) -> int:
    """The summary table (and JSON on ``out``); the exit status."""
    if isinstance(inner, FcDispatcher):
        summary.invocations = inner.invocations
    if isinstance(inner, LocalDispatcher):
        summary.verdicts.update({f"local {k}": v for k, v in inner.outcomes.items()})
    print_summary(err, summary)
    if out is not None:
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
    rows[5:5] = [(VERDICT_WORDS[v], n) for v, n in sorted(summary.verdicts.items()) if v in VERDICT_WORDS]
    rows += [
        (LOCAL_WORDS.get(v.removeprefix("local "), v), n) for v, n in sorted(summary.verdicts.items())
        if v.startswith("local ")
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    if summary.interrupted:
        table.add_row("stopped early", "yes: run again to resume from the checkpoint")
    console.print(table)
