"""Listing the bucket: every photo under a prefix, in listing order, with the verdict its result gives.

The bucket is listed once (``oss2.ObjectIteratorV2``), or its objects come from an inventory report (in key order as
OSS writes them; a report out of order only costs extra invocations, which the function's idempotency turns away). A result ``<key>.faces.json`` always sorts after ``<key>`` and
every key between them starts with ``<key>``, so the listing itself says which results exist; only existing results are
HEADed to read their source ETag and engine from metadata (:mod:`.staleness`). A claim ``<key>.faces.json.claim``
sorts right after the result, so a photo is held until the listing has passed where its claim would be, too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import oss2

from ossfaces.events import OssRecord
from ossfaces.idempotency import CLAIM_SUFFIX
from ossfaces.pipeline import skip_reason
from ossfaces.settings import Settings
from ossfaces_tools.backfill.staleness import Claim, Verdict, read_claim, verdict_of


@dataclass(frozen=True)
class Candidate:
    """A photo found by the listing, what its result says, and the listing position just before it."""

    record: OssRecord
    verdict: Verdict
    reason: str
    before: str | None
    claim: Claim | None = None
    """The claim beside the result when the listing showed one (an analysis in progress, or left by a crash)."""

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
        objects: Iterable[Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.settings = settings
        self.engine_tag = engine_tag
        self.start_after = start_after
        self.force = force
        self.page_size = page_size
        self.objects = objects
        """Objects (``.key``, ``.size``, ``.etag``) to use instead of listing: an inventory report's rows."""
        self.scanned = 0
        self.last_key: str | None = start_after
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._held: tuple[str | None] | None = None  # the position before the photo the consumer is handling now
        self._lock = threading.Lock()

    def safe_position(self) -> str | None:
        """The listing position before which every photo has been yielded and taken in hand by the consumer."""
        with self._lock:
            if self._held is not None:
                return self._held[0]
            if self._pending:
                return next(iter(self._pending.values())).before
            return self.last_key

    def __iter__(self) -> Iterator[Candidate]:
        suffix = self.settings.result_suffix
        listing: Iterable[Any] = (
            oss2.ObjectIteratorV2(
                self.bucket, prefix=self.prefix, start_after=self.start_after or "", max_keys=self.page_size
            )
            if self.objects is None
            else (o for o in self.objects if self.start_after is None or o.key > self.start_after)
        )
        for info in listing:
            key: str = info.key
            with self._lock:
                before, self.last_key = self.last_key, key
                self.scanned += 1
            if key.endswith(suffix) and key[: -len(suffix)] in self._pending:
                self._resolve(key[: -len(suffix)])
            claimed = key[: -len(suffix + CLAIM_SUFFIX)] if key.endswith(suffix + CLAIM_SUFFIX) else None
            if claimed is not None and claimed in self._pending:
                self._pending[claimed].claim = read_claim(self.bucket, key)
            yield from self._ready(key)
            if key.endswith(suffix) or not key.lower().endswith(self.settings.image_suffixes):
                continue
            record = make_record(self.bucket.bucket_name, self.region, key, int(info.size), info.etag)
            reason = skip_reason(record, self.settings)
            with self._lock:
                self._pending[key] = _Pending(record, before, "skipped", reason) if reason else _Pending(record, before)
        yield from self._ready(None)

    def check(self, record: OssRecord) -> tuple[Verdict, str]:
        """The verdict for a photo whose result exists: one HEAD, metadata only."""
        return verdict_of(self.bucket, record, self.settings, self.engine_tag, force=self.force)

    def _resolve(self, photo: str) -> None:
        entry = self._pending[photo]
        verdict, reason = self.check(entry.record)
        with self._lock:
            entry.verdict, entry.reason = verdict, reason

    def _ready(self, listed: str | None) -> Iterator[Candidate]:
        """Yield the held-back photos, oldest first, whose result and claim can no longer appear (``listed`` is past)."""
        suffix = self.settings.result_suffix + CLAIM_SUFFIX
        while self._pending:
            photo, entry = next(iter(self._pending.items()))
            verdict, reason, before = entry.verdict, entry.reason, entry.before
            if verdict != "skipped" and listed is not None and listed <= photo + suffix:
                return
            if verdict is None:
                verdict, reason = ("stale-engine", "--force") if self.force else ("missing", "no result")
            candidate = Candidate(entry.record, verdict, reason, before, entry.claim)
            with self._lock:
                del self._pending[photo]
                self._held = (before,)
            yield candidate  # the consumer resumes us only once it has recorded the candidate (or it stops for good)
            with self._lock:
                self._held = None


@dataclass
class _Pending:
    """A photo the listing has passed, waiting for its result and claim to show up (or not)."""

    record: OssRecord
    before: str | None
    verdict: Verdict | None = None
    reason: str = ""
    claim: Claim | None = None


def count_objects(bucket: oss2.Bucket, prefix: str, start_after: str | None) -> int:
    """How many keys the run will list: a cheap listing-only pass that gives the progress bar its total (and an ETA)."""
    return sum(1 for _ in oss2.ObjectIteratorV2(bucket, prefix=prefix, start_after=start_after or "", max_keys=1000))
