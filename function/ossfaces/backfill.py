"""``ossfaces backfill``: give photos already in a bucket the result they would have had from the trigger.

Why it looks like this (DESIGN.md "Beyond one machine"): FC is the scale-out engine, so each photo that needs work becomes
an asynchronous invocation of the deployed function with the same event shape the OSS trigger sends; the function's own
idempotency stays the last line of defence. ``--local`` runs the same ``Pipeline`` on a bounded in-process pool instead.

The bucket is listed once (``oss2.ObjectIteratorV2``). A result ``<key>.faces.json`` always sorts after ``<key>`` and
every key between them starts with ``<key>``, so the listing itself says which results exist; only existing results are
HEADed to read their source ETag and engine from metadata. A checkpoint file holds the last listing position before which
every photo was decided or fully dispatched; a resumed run starts after it, so in-flight async work is not sent twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

import oss2

from ossfaces.events import OssRecord
from ossfaces.idempotency import META_ENGINE, META_SOURCE_ETAG, staleness
from ossfaces.pipeline import Pipeline, result_key, skip_reason
from ossfaces.settings import Settings

ASYNC_PAYLOAD_LIMIT = 128 * 1024  # FC's limit on an asynchronous invocation's payload (research alicloud.md §6.1)
CHECKPOINT_VERSION = 1
Verdict = Literal["missing", "stale-source", "stale-engine", "up-to-date", "skipped"]
NEEDS_WORK: frozenset[str] = frozenset({"missing", "stale-source", "stale-engine"})


# --------------------------------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Candidate:
    """A photo found by the listing, what its result says, and the listing position just before it."""

    record: OssRecord
    verdict: Verdict
    reason: str
    before: str | None

    @property
    def key(self) -> str:
        return self.record.key


def make_record(bucket: str, region: str, key: str, size: int, etag: str | None) -> OssRecord:
    """The OSS trigger's record for an object that already exists (``ObjectCreated:PutObject``, research §1.1)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return OssRecord.model_validate(
        {
            "eventName": "ObjectCreated:PutObject",
            "eventSource": "acs:oss",
            "eventTime": now,
            "eventVersion": "1.0",
            "region": region,
            "oss": {
                "bucket": {"name": bucket},
                "object": {"key": key, "size": size, "eTag": etag.strip('"') if etag else None},
                "ossSchemaVersion": "1.0",
            },
        }
    )


def record_payload(record: OssRecord) -> dict[str, Any]:
    """The record as it travels in ``{"events": [...]}``: wire names, no nulls."""
    return record.model_dump(mode="json", exclude_none=True)


class Scanner:
    """Lists ``prefix`` after ``start_after`` and yields every photo, in listing order, with its verdict.

    A photo is held back until the listing has passed the place where its result would sort, so that the decision
    never needs more than the photos whose result may still come (in practice one or two).
    """

    def __init__(
        self,
        bucket: oss2.Bucket,
        region: str,
        prefix: str,
        settings: Settings,
        engine_tag: str,
        start_after: str | None = None,
        force: bool = False,
        page_size: int = 1000,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.settings = settings
        self.engine_tag = engine_tag
        self.start_after = start_after
        self.force = force
        self.page_size = page_size
        self.scanned = 0
        self.last_key: str | None = start_after
        self._pending: OrderedDict[str, tuple[OssRecord, str | None, Verdict | None, str]] = OrderedDict()
        self._held: tuple[str | None] | None = None  # the position before the photo the consumer is handling now
        self._lock = threading.Lock()

    def safe_position(self) -> str | None:
        """The listing position before which every photo has been yielded and taken in hand by the consumer."""
        with self._lock:
            if self._held is not None:
                return self._held[0]
            if self._pending:
                return next(iter(self._pending.values()))[1]
            return self.last_key

    def __iter__(self) -> Iterator[Candidate]:
        suffix = self.settings.result_suffix
        listing = oss2.ObjectIteratorV2(
            self.bucket, prefix=self.prefix, start_after=self.start_after or "", max_keys=self.page_size
        )
        for info in listing:
            key: str = info.key
            with self._lock:
                before, self.last_key = self.last_key, key
                self.scanned += 1
            if key.endswith(suffix) and key[: -len(suffix)] in self._pending:
                self._resolve(key[: -len(suffix)])
            yield from self._ready(key)
            if key.endswith(suffix) or not key.lower().endswith(self.settings.image_suffixes):
                continue
            record = make_record(self.bucket.bucket_name, self.region, key, int(info.size), info.etag)
            reason = skip_reason(record, self.settings)
            with self._lock:
                if reason:
                    self._pending[key] = (record, before, "skipped", reason)
                else:
                    self._pending[key] = (record, before, None, "")
        yield from self._ready(None)

    def check(self, record: OssRecord) -> tuple[Verdict, str]:
        """The verdict for a photo whose result exists: one HEAD, metadata only."""
        if self.force:
            return "stale-engine", "--force"
        target = result_key(record.key, self.settings)
        try:
            meta = self.bucket.head_object(target).headers
        except oss2.exceptions.NotFound:
            return "missing", f"no {target}"
        verdict = staleness(meta, record.etag, self.engine_tag)
        reasons = {
            "stale-source": f"result made from ETag {meta.get(META_SOURCE_ETAG)}, the photo is now {record.etag}",
            "stale-engine": f"result made by {meta.get(META_ENGINE)}, the engine is now {self.engine_tag}",
            "up-to-date": "",
        }
        return verdict, reasons[verdict]

    def _resolve(self, photo: str) -> None:
        record, before, _, _ = self._pending[photo]
        verdict, reason = self.check(record)
        with self._lock:
            self._pending[photo] = (record, before, verdict, reason)

    def _ready(self, listed: str | None) -> Iterator[Candidate]:
        """Yield the held-back photos, oldest first, whose result can no longer appear (``listed`` is past it)."""
        suffix = self.settings.result_suffix
        while self._pending:
            photo, (record, before, verdict, reason) = next(iter(self._pending.items()))
            if verdict is None:
                if listed is not None and listed <= photo + suffix:
                    return
                verdict, reason = ("stale-engine", "--force") if self.force else ("missing", "no result")
            candidate = Candidate(record, verdict, reason, before)
            with self._lock:
                del self._pending[photo]
                self._held = (before,)
            yield candidate  # the consumer resumes us only once it has recorded the candidate (or it stops for good)
            with self._lock:
                self._held = None


# --------------------------------------------------------------------------------------------------- the checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stands: every photo up to ``after`` (listing order) is decided or dispatched, except ``failed``."""

    bucket: str
    prefix: str
    mode: str
    after: str | None = None
    failed: tuple[tuple[str, int, str | None], ...] = ()

    @staticmethod
    def default_path(bucket: str, prefix: str, mode: str) -> Path:
        digest = hashlib.sha256(f"{bucket}\0{prefix}\0{mode}".encode()).hexdigest()[:12]
        return Path(f".ossfaces-backfill-{bucket}-{digest}.json")

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if data.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{path}: checkpoint version {data.get('version')} is not {CHECKPOINT_VERSION}")
        return cls(
            data["bucket"],
            data["prefix"],
            data["mode"],
            data.get("after"),
            tuple((f["key"], int(f["size"]), f.get("etag")) for f in data.get("failed", [])),
        )

    def save(self, path: Path) -> None:
        """Atomically: a kill leaves the old checkpoint or the new one, never half of one."""
        data = {
            "version": CHECKPOINT_VERSION,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "mode": self.mode,
            "after": self.after,
            "failed": [{"key": k, "size": s, "etag": e} for k, s, e in self.failed],
            "updated": datetime.now(timezone.utc).isoformat(),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)


class Frontier:
    """Tracks photos in flight in listing order and moves the checkpoint once everything before a position is done."""

    SAVE_EVERY = 1.0  # seconds; a dispatch is always saved at once, mere decisions (cheap to redo) at most this often

    def __init__(self, base: Checkpoint, scanner: Scanner, path: Path | None) -> None:
        self.base = base
        self.scanner = scanner
        self.path = path
        self._in_flight: OrderedDict[str, tuple[str | None, bool]] = OrderedDict()
        self._failed: dict[str, tuple[str, int, str | None]] = {}
        self._lock = threading.Lock()
        self._saved: Checkpoint | None = None
        self._saved_at = 0.0

    def start(self, candidate: Candidate) -> None:
        with self._lock:
            self._in_flight[candidate.key] = (candidate.before, False)

    def finish(self, record: OssRecord, *, failed: bool = False, dispatched: bool = False) -> None:
        """The photo is handed over (or decided, or failed: then it is kept in the failed list for the next run)."""
        with self._lock:
            if record.key in self._in_flight:
                self._in_flight[record.key] = (self._in_flight[record.key][0], True)
            if failed:
                self._failed[record.key] = (record.key, record.size, record.etag)
            else:
                self._failed.pop(record.key, None)
            while self._in_flight and next(iter(self._in_flight.values()))[1]:
                self._in_flight.popitem(last=False)
            if failed or dispatched or time.monotonic() - self._saved_at >= self.SAVE_EVERY:
                self._save_locked()

    def remember_failures(self, failed: tuple[tuple[str, int, str | None], ...]) -> None:
        with self._lock:
            for entry in failed:
                self._failed[entry[0]] = entry

    def position(self) -> str | None:
        with self._lock:
            return self._position_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    @property
    def failed(self) -> list[tuple[str, int, str | None]]:
        with self._lock:
            return list(self._failed.values())

    def _position_locked(self) -> str | None:
        if self._in_flight:
            return next(iter(self._in_flight.values()))[0]
        return self.scanner.safe_position()

    def _save_locked(self) -> None:
        if self.path is None:
            return
        current = Checkpoint(
            self.base.bucket, self.base.prefix, self.base.mode, self._position_locked(), tuple(self._failed.values())
        )
        if current != self._saved:
            current.save(self.path)
            self._saved = current
            self._saved_at = time.monotonic()


# --------------------------------------------------------------------------------------------------- dispatching


class Dispatcher(Protocol):
    """Sends a batch of records somewhere that will process them; raises when they were not accepted."""

    mode: str

    def dispatch(self, records: list[OssRecord]) -> None: ...


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts of ``burst``; thread-safe, blocking."""

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def acquire(self) -> None:
        wait = self.delay()
        if wait > 0:
            time.sleep(wait)


def event_payloads(records: list[OssRecord], limit: int = ASYNC_PAYLOAD_LIMIT) -> list[bytes]:
    """``{"events": [...]}`` payloads holding ``records`` in order, each at most ``limit`` bytes."""
    payloads: list[bytes] = []
    chunk: list[bytes] = []
    size = len(b'{"events":[]}')
    for record in records:
        encoded = json.dumps(record_payload(record), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if size + len(encoded) + 1 > limit and chunk:
            payloads.append(b'{"events":[' + b",".join(chunk) + b"]}")
            chunk, size = [], len(b'{"events":[]}')
        if size + len(encoded) > limit:
            raise ValueError(f"one record is {len(encoded)} bytes, over the {limit}-byte payload limit")
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        payloads.append(b'{"events":[' + b",".join(chunk) + b"]}")
    return payloads


class FcDispatcher:
    """Asynchronous invocations of the deployed function through ``fc2`` (FC 2.0 API), retried when FC says "later"."""

    mode = "fc"
    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        client: Any,
        service: str,
        function: str,
        qualifier: str | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.service = service
        self.function = function
        self.qualifier = qualifier
        self.attempts = attempts
        self.backoff = backoff
        self.invocations = 0
        self._lock = threading.Lock()

    def dispatch(self, records: list[OssRecord]) -> None:
        for payload in event_payloads(records):
            self._invoke(payload)

    def _invoke(self, payload: bytes) -> None:
        import fc2

        for attempt in range(self.attempts):
            try:
                self.client.invoke_function(
                    self.service,
                    self.function,
                    payload=payload,
                    headers={"x-fc-invocation-type": "Async"},
                    qualifier=self.qualifier,
                )
            except fc2.fc_exceptions.FcError as exc:
                if exc.status_code not in self.RETRY_STATUSES or attempt == self.attempts - 1:
                    raise DispatchError(f"FC refused the invocation: {exc.status_code} {exc.err_code}") from exc
            except (
                OSError,
                ValueError,
            ) as exc:  # requests' connection errors are OSErrors; a non-JSON error body a ValueError
                if attempt == self.attempts - 1:
                    raise DispatchError(f"FC unreachable: {type(exc).__name__}: {str(exc)[:200]}") from exc
            else:
                with self._lock:
                    self.invocations += 1
                return
            time.sleep(self.backoff * 2**attempt)


class LocalDispatcher:
    """The same ``Pipeline`` the function runs, in this process; a failure is what would have failed the invocation."""

    mode = "local"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.outcomes: dict[str, int] = {"processed": 0, "error-document": 0, "skipped": 0}
        self._lock = threading.Lock()

    def dispatch(self, records: list[OssRecord]) -> None:
        for record in records:
            outcome = self.pipeline.process(record, request_id="backfill")
            with self._lock:
                self.outcomes[outcome.action] += 1


class DispatchError(Exception):
    """The photo was not handed over; it stays in the checkpoint's failed list."""


def fc_client(endpoint: str, access_key_id: str, access_key_secret: str, security_token: str = "") -> Any:
    """An fc2 client; keyword arguments only (research §6.1)."""
    import fc2

    return fc2.Client(
        endpoint=endpoint,
        accessKeyID=access_key_id,
        accessKeySecret=access_key_secret,
        securityToken=security_token,
        Timeout=30,
    )


# --------------------------------------------------------------------------------------------------- the run


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
        self.scanner: Scanner | None = None
        self._lock = threading.Lock()

    def run(self) -> Summary:
        started = time.perf_counter()
        opts = self.options
        path = None if opts.dry_run else opts.checkpoint
        previous = None if (opts.restart or path is None) else Checkpoint.load(path)
        base = Checkpoint(self.bucket.bucket_name, opts.prefix, self.dispatcher.mode)
        if previous and (previous.bucket, previous.prefix, previous.mode) != (base.bucket, base.prefix, base.mode):
            raise ValueError(
                f"{path} belongs to bucket={previous.bucket} prefix={previous.prefix!r} mode={previous.mode}; "
                "use another --checkpoint or --restart"
            )
        start_after = previous.after if previous else None
        self.summary.resumed_after = start_after
        scanner = Scanner(
            self.bucket,
            self.region,
            opts.prefix,
            self.settings,
            self.engine_tag,
            start_after,
            opts.force,
            opts.page_size,
        )
        self.scanner = scanner
        frontier = Frontier(base, scanner, path)
        rate = TokenBucket(opts.rate, burst=max(1, int(opts.rate))) if opts.rate else None
        slots = threading.BoundedSemaphore(opts.workers * 2)
        batch: list[Candidate] = []

        def settle(done: list[Candidate], error: BaseException | None) -> None:
            with self._lock:
                if error is None:
                    self.summary.dispatched += len(done)
                else:
                    self.summary.failed += len(done)
            for candidate in done:
                frontier.finish(candidate.record, failed=error is not None, dispatched=error is None)
                self.report("failed" if error else "dispatched", candidate, self.summary)
            if self.summary.failed >= opts.max_failures:
                self.stop.set()

        def send(done: list[Candidate]) -> None:
            try:
                self.dispatcher.dispatch([c.record for c in done])
            except Exception as exc:  # any failure leaves these photos in the failed list: reported, retried next run
                settle(done, exc)
            else:
                settle(done, None)
            finally:
                slots.release()

        def flush(pool: ThreadPoolExecutor) -> None:
            nonlocal batch
            if not batch:
                return
            if rate:
                rate.acquire()
            slots.acquire()
            pool.submit(send, batch)
            batch = []

        with ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="backfill") as pool:
            try:
                for candidate in self._candidates(previous, scanner, frontier):
                    if self.stop.is_set():
                        break
                    self._count(candidate)
                    if candidate.verdict not in NEEDS_WORK:
                        frontier.finish(candidate.record)
                        self.report(candidate.verdict, candidate, self.summary)
                        continue
                    if opts.dry_run:
                        self.report("would-dispatch", candidate, self.summary)
                        continue
                    frontier.start(candidate)
                    batch.append(candidate)
                    if len(batch) >= opts.batch:
                        flush(pool)
                    if opts.stop_after is not None and self.summary.to_do >= opts.stop_after:
                        self.stop.set()
                if not self.stop.is_set():
                    flush(pool)
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

    def _candidates(self, previous: Checkpoint | None, scanner: Scanner, frontier: Frontier) -> Iterator[Candidate]:
        """First the photos a previous run failed to hand over, then the listing from where it stopped."""
        if previous and previous.failed:
            frontier.remember_failures(previous.failed)
            for key, size, etag in previous.failed:
                record = make_record(self.bucket.bucket_name, self.region, key, size, etag)
                verdict, reason = scanner.check(record)
                self.summary.retried += 1
                yield Candidate(record, verdict, reason, previous.after)
        yield from scanner

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


def count_objects(bucket: oss2.Bucket, prefix: str, start_after: str | None) -> int:
    """How many keys the run will list: a cheap listing-only pass that gives the progress bar its total (and an ETA)."""
    return sum(1 for _ in oss2.ObjectIteratorV2(bucket, prefix=prefix, start_after=start_after or "", max_keys=1000))


# --------------------------------------------------------------------------------------------------- the command


def tool_bucket(
    settings: Settings, bucket: str, region: str, access_key_id: str, access_key_secret: str, security_token: str = ""
) -> oss2.Bucket:
    """The bucket as the CLI tools reach it: ``settings.oss_endpoint`` or, from outside Alibaba Cloud, the public one."""
    from ossfaces.storage import Credentials, open_bucket

    if not settings.oss_endpoint:
        settings = settings.model_copy(update={"oss_endpoint": f"https://oss-{region}.aliyuncs.com"})
    return open_bucket(settings, Credentials(access_key_id, access_key_secret, security_token), bucket, region)


def run_command(
    *,
    bucket: str,
    prefix: str,
    region: str,
    oss_endpoint: str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str,
    fc_endpoint: str,
    service: str,
    function: str,
    qualifier: str | None,
    local: bool,
    workers: int,
    rate: float | None,
    batch: int,
    dry_run: bool,
    force: bool,
    checkpoint: Path | None,
    restart: bool,
    engine_tag: str | None,
    max_failures: int,
    stop_after: int | None,
    count: bool,
    as_json: bool,
    progress: bool,
) -> int:
    """``ossfaces backfill``: 0 when everything was handed over, 1 on failures, 3 when stopped early."""
    import signal

    import click
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ossfaces.engines import engine_tag as tag_of
    from ossfaces.engines import make_engine
    from ossfaces.errors import OssFacesError
    from ossfaces.storage import Credentials, open_bucket

    if not access_key_id or not access_key_secret:
        raise click.UsageError(
            "credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET or pass --access-key-id/--access-key-secret"
        )
    if not local and not dry_run and not (fc_endpoint and service and function):
        raise click.UsageError("--fc-endpoint, --service and --function are required (or --local, or --dry-run)")
    err = Console(stderr=True)
    settings = Settings()
    if oss_endpoint:
        settings = settings.model_copy(update={"oss_endpoint": oss_endpoint})
    oss_bucket = tool_bucket(settings, bucket, region, access_key_id, access_key_secret, security_token)
    settings = settings.model_copy(update={"oss_endpoint": oss_bucket.endpoint})
    try:
        engine = make_engine(settings) if (local or not engine_tag) else None
    except OssFacesError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    credentials = Credentials(access_key_id, access_key_secret, security_token)
    dispatcher: Dispatcher
    if local:
        assert engine is not None
        pipeline = Pipeline(
            settings, engine, lambda name, reg: open_bucket(settings, credentials, name, reg), credentials=credentials
        )
        dispatcher = LocalDispatcher(pipeline)
        tag = engine_tag or pipeline.engine_tag
    else:
        client = fc_client(fc_endpoint, access_key_id, access_key_secret, security_token) if fc_endpoint else None
        dispatcher = FcDispatcher(client, service, function, qualifier)
        if engine_tag:
            tag = engine_tag
        else:
            assert engine is not None
            tag = tag_of(engine)
    options = Options(
        prefix=prefix,
        workers=workers,
        rate=rate,
        batch=batch,
        dry_run=dry_run,
        force=force,
        checkpoint=checkpoint or Checkpoint.default_path(bucket, prefix, dispatcher.mode),
        restart=restart,
        max_failures=max_failures,
        stop_after=stop_after,
    )
    previous = None if (restart or dry_run) else Checkpoint.load(options.checkpoint)  # type: ignore[arg-type]
    if previous:
        err.print(
            f"resuming after {previous.after!r} ({len(previous.failed)} earlier failures to retry) from {options.checkpoint}"
        )
    total = count_objects(oss_bucket, prefix, previous.after if previous else None) if count else None
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
    )
    task = bar.add_task("backfill", total=total, status="")

    def report(event: str, candidate: Candidate | None, summary: Summary) -> None:
        scanned = runner.scanner.scanned if runner.scanner else 0
        bar.update(task, completed=scanned, status=f"sent {summary.dispatched} failed {summary.failed}")
        if event == "would-dispatch" and candidate:
            click.echo(f"{candidate.verdict}\t{candidate.key}\t{candidate.reason}")
        if event == "failed" and candidate:
            err.print(f"[red]failed[/red] {candidate.key}")

    runner = Backfill(oss_bucket, region, settings, tag, dispatcher, options, report)

    def on_term(signum: int, frame: Any) -> None:
        runner.stop.set()

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        with bar:
            summary = runner.run()
            bar.update(task, completed=summary.scanned, total=total if total is not None else summary.scanned)
    except (ValueError, oss2.exceptions.OssError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, old)
    if isinstance(dispatcher, FcDispatcher):
        summary.invocations = dispatcher.invocations
    if isinstance(dispatcher, LocalDispatcher):
        summary.verdicts.update({f"local {k}": v for k, v in dispatcher.outcomes.items()})
    _print_summary(err, summary)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    if summary.failed:
        return 1
    return 3 if summary.interrupted else 0


def _print_summary(console: Any, summary: Summary) -> None:
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
