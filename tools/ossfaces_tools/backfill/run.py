"""The run loop: list, decide, dispatch on a bounded pool at a bounded rate, keep the checkpoint.

Why it looks like this (docs/design.md "Beyond one machine"): FC is the scale-out engine, so each photo that needs work becomes
an asynchronous invocation of the deployed function with the same event shape the OSS trigger sends; the function's own
idempotency stays the last line of defence. ``--local`` runs the same ``Pipeline`` on a bounded in-process pool instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oss2

from ossfaces.errors import TransientError
from ossfaces.settings import Settings
from ossfaces_tools.backfill.checkpoint import Checkpoint, Frontier
from ossfaces_tools.backfill.dispatch import Dispatcher, TokenBucket
from ossfaces_tools.backfill.listing import Candidate, Scanner, make_record
from ossfaces_tools.backfill.staleness import NEEDS_WORK, claim_key, read_claim


@dataclass
class Summary:
    scanned: int = 0
    images: int = 0
    up_to_date: int = 0
    skipped: int = 0
    to_do: int = 0
    dispatched: int = 0
    failed: int = 0
    retried: int = 0
    invocations: int = 0
    elapsed: float = 0.0
    dry_run: bool = False
    interrupted: bool = False
    aborted: bool = False
    resumed_after: str | None = None
    claims_waited: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Photos handed over per second."""
        return self.dispatched / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "throughput": round(self.throughput, 2), "elapsed": round(self.elapsed, 3)}


@dataclass
class Options:
    prefix: str = ""
    workers: int = 8
    rate: float | None = None
    batch: int = 1
    dry_run: bool = False
    force: bool = False
    checkpoint: Path | None = None
    restart: bool = False
    max_failures: int = 100
    stop_after: int | None = None
    page_size: int = 1000
    wait_claims: bool = False
    """Wait for a live claim (an analysis in progress, or one a crash left) to be released or expire, then hand over."""
    max_claim_wait: float | None = None
    """With ``wait_claims``: give up on a claim after this many seconds (default: until it expires)."""
    objects: Any = None
    """An inventory report's objects (``ossfaces_tools.inventory.iter_objects``) instead of listing the bucket."""


Reporter = Callable[[str, Candidate | None, Summary], None]


class Backfill:
    """One run: list, decide, dispatch on a bounded pool at a bounded rate, keep the checkpoint."""

    def __init__(
        self,
        bucket: oss2.Bucket,
        region: str,
        settings: Settings,
        engine_tag: str,
        dispatcher: Dispatcher,
        options: Options,
        report: Reporter | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.settings = settings
        self.engine_tag = engine_tag
        self.dispatcher = dispatcher
        self.options = options
        self.report: Reporter = report or (lambda event, candidate, summary: None)
        self.stop = threading.Event()
        self.summary = Summary(dry_run=options.dry_run)
        self.first_sent: float | None = None
        """``time.perf_counter()`` when the first batch was handed over (how soon a run starts working)."""
        self.scanner: Scanner | None = None
        self._lock = threading.Lock()

    def run(self) -> Summary:
        started = time.perf_counter()
        opts = self.options
        path = None if opts.dry_run else opts.checkpoint
        previous, base = self._checkpoint(path)
        self.summary.resumed_after = previous.after if previous else None
        scanner = Scanner(self.bucket, self.region, opts.prefix, self.settings, self.engine_tag,
                          self.summary.resumed_after, opts.force, opts.page_size, opts.objects)  # fmt: skip
        self.scanner = scanner
        frontier = Frontier(base, scanner, path)
        with ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="backfill") as pool:
            hand = _Hand(self, frontier, pool)
            try:
                deferred = self._walk(self._candidates(previous, scanner, frontier), frontier, hand)
                if not self.stop.is_set():
                    hand.flush()
                self._wait_out_claims(deferred, scanner, frontier, hand)
            except KeyboardInterrupt:
                self.stop.set()
            # Photos listed but never sent stay "started" in the frontier, and the scanner still holds the one it
            # yielded last, so the checkpoint stays before them. Leaving the pool waits for everything in flight.
        self.summary.scanned = scanner.scanned
        self.summary.aborted = self.summary.failed >= opts.max_failures
        self.summary.interrupted = self.stop.is_set()
        self.summary.elapsed = time.perf_counter() - started
        if path is not None:
            if not self.stop.is_set() and not frontier.failed:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # complete: the next run starts from the top and finds everything up to date
            else:
                frontier.save()
        return self.summary

    def _checkpoint(self, path: Path | None) -> tuple[Checkpoint | None, Checkpoint]:
        """The checkpoint to resume from (if any, and if it is this run's) and the one this run keeps."""
        opts = self.options
        previous = None if (opts.restart or path is None) else Checkpoint.load(path)
        base = Checkpoint(self.bucket.bucket_name, opts.prefix, self.dispatcher.mode)
        if previous and (previous.bucket, previous.prefix, previous.mode) != (base.bucket, base.prefix, base.mode):
            raise ValueError(
                f"{path} belongs to bucket={previous.bucket} prefix={previous.prefix!r} mode={previous.mode}; "
                "use another --checkpoint or --restart"
            )
        return previous, base

    def _walk(self, candidates: Iterator[Candidate], frontier: Frontier, hand: _Hand) -> list[Candidate]:
        """Decide each listed photo and hand over those that need work; return those behind a live claim to wait for."""
        opts = self.options
        deferred: list[Candidate] = []
        for candidate in candidates:
            if self.stop.is_set():
                break
            self._count(candidate)
            if candidate.verdict not in NEEDS_WORK:
                frontier.finish(candidate.record)
                self.report(candidate.verdict, candidate, self.summary)
                continue
            claim = candidate.claim if candidate.claim is not None and candidate.claim.live() else None
            if opts.dry_run:
                shown = dataclasses.replace(candidate, reason=claim.describe()) if claim else candidate
                self.report("would-dispatch", shown, self.summary)
                continue
            frontier.start(candidate)
            if claim is not None and opts.wait_claims:
                deferred.append(candidate)
                self.report("waiting", candidate, self.summary)
            elif claim is not None:
                hand.settle([candidate], ClaimBlocked(f"{claim.describe()}: {CLAIM_HINT}"))
            else:
                hand.add(candidate)
            if opts.stop_after is not None and self.summary.to_do >= opts.stop_after:
                self.stop.set()
        return deferred

    def _wait_out_claims(self, deferred: list[Candidate], scanner: Scanner, frontier: Frontier, hand: _Hand) -> None:
        """``--wait-claims``: each photo once its claim is released or expired, soonest first."""
        for candidate in sorted(deferred, key=lambda c: c.claim.expires if c.claim else 0.0):
            if self.stop.is_set():
                break
            blocked = self._wait_for_claim(candidate)
            if self.stop.is_set():
                break  # still "started" in the frontier: the checkpoint stays before it
            if blocked:
                hand.settle([candidate], ClaimBlocked(blocked))
                continue
            with self._lock:
                self.summary.claims_waited += 1
            verdict, reason = scanner.check(candidate.record)  # the claim's holder may have finished it
            if verdict not in NEEDS_WORK:
                frontier.finish(candidate.record)
                self.report(verdict, dataclasses.replace(candidate, verdict=verdict, reason=reason), self.summary)
                continue
            hand.add(candidate)
            hand.flush()

    def _candidates(self, previous: Checkpoint | None, scanner: Scanner, frontier: Frontier) -> Iterator[Candidate]:
        """First the photos a previous run failed to hand over, then the listing from where it stopped."""
        if previous and previous.failed:
            frontier.remember_failures(previous.failed)
            for key, size, etag in previous.failed:
                record = make_record(self.bucket.bucket_name, self.region, key, size, etag)
                verdict, reason = scanner.check(record)
                self.summary.retried += 1
                claim = read_claim(self.bucket, claim_key(key, self.settings)) if verdict in NEEDS_WORK else None
                yield Candidate(record, verdict, reason, previous.after, claim)
        yield from scanner

    def _wait_for_claim(self, candidate: Candidate) -> str | None:
        """Wait until the candidate's claim is released or expires (None), or say why not (``--max-claim-wait``)."""
        claim = candidate.claim
        limit = self.options.max_claim_wait
        started = time.monotonic()
        while claim is not None and claim.live():
            waited = time.monotonic() - started
            if limit is not None and waited >= limit:
                return f"{claim.describe()}; waited {int(waited)} s (--max-claim-wait)"
            pause = min(1.0, claim.expires - time.time() + 0.05, *([limit - waited] if limit is not None else []))
            if self.stop.wait(max(0.05, pause)):
                return None
            claim = read_claim(self.bucket, claim.key)
        return None  # released, or expired: the function takes an expired claim over

    def _why(self, candidate: Candidate, error: BaseException) -> str:
        """A failure's reason for its line; a claim found by the function itself is described like the listing's."""
        if isinstance(error, TransientError) and error.code == "InProgress":
            claim = read_claim(self.bucket, claim_key(candidate.key, self.settings))
            if claim is not None and claim.live():
                return f"{claim.describe()}: {CLAIM_HINT}"
        return str(error) or type(error).__name__

    def _count(self, candidate: Candidate) -> None:
        s = self.summary
        s.images += 1
        s.verdicts[candidate.verdict] = s.verdicts.get(candidate.verdict, 0) + 1
        if candidate.verdict == "up-to-date":
            s.up_to_date += 1
        elif candidate.verdict == "skipped":
            s.skipped += 1
        else:
            s.to_do += 1


CLAIM_HINT = "another invocation is analysing it, or a crashed one left the claim; run again after it expires, or pass --wait-claims"


class ClaimBlocked(Exception):
    """A live claim stands in the way of handing the photo over; the message says whose and until when."""


class _Hand:
    """Hands batches to the dispatcher on a bounded pool at a bounded rate and settles each photo in the frontier."""

    def __init__(self, run: Backfill, frontier: Frontier, pool: ThreadPoolExecutor) -> None:
        opts = run.options
        self.run = run
        self.frontier = frontier
        self.pool = pool
        self.rate = TokenBucket(opts.rate, burst=max(1, int(opts.rate))) if opts.rate else None
        self.slots = threading.BoundedSemaphore(opts.workers * 2)
        self.batch: list[Candidate] = []

    def add(self, candidate: Candidate) -> None:
        self.batch.append(candidate)
        if len(self.batch) >= self.run.options.batch:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        if self.rate:
            self.rate.acquire()
        self.slots.acquire()
        self.pool.submit(self._send, self.batch)
        self.batch = []

    def settle(self, done: list[Candidate], error: BaseException | None) -> None:
        run = self.run
        with run._lock:
            if error is None:
                run.summary.dispatched += len(done)
            else:
                run.summary.failed += len(done)
        for candidate in done:
            self.frontier.finish(candidate.record, failed=error is not None, dispatched=error is None)
            if error is None:
                run.report("dispatched", candidate, run.summary)
            else:  # every failure line says why
                run.report("failed", dataclasses.replace(candidate, reason=run._why(candidate, error)), run.summary)
        if run.summary.failed >= run.options.max_failures:
            run.stop.set()

    def _send(self, done: list[Candidate]) -> None:
        if self.run.first_sent is None:
            self.run.first_sent = time.perf_counter()
        try:
            self.run.dispatcher.dispatch([c.record for c in done])
        except Exception as exc:  # any failure leaves these photos in the failed list: reported, retried next run
            self.settle(done, exc)
        else:
            self.settle(done, None)
        finally:
            self.slots.release()
