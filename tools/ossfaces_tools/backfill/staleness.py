"""What a photo needs: its result's metadata (one HEAD, no body) against the photo's ETag and the engine's tag; and
whether a claim (an analysis in progress, or one a crash left) stands in the way."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

import oss2

from ossfaces.events import OssRecord
from ossfaces.idempotency import CLAIM_SUFFIX, META_ENGINE, META_EXPIRES, META_SOURCE_ETAG, staleness
from ossfaces.pipeline import result_key
from ossfaces.settings import Settings

Verdict = Literal["missing", "stale-source", "stale-engine", "up-to-date", "skipped"]
NEEDS_WORK: frozenset[str] = frozenset({"missing", "stale-source", "stale-engine"})


def verdict_of(
    bucket: oss2.Bucket, record: OssRecord, settings: Settings, engine_tag: str, *, force: bool = False
) -> tuple[Verdict, str]:
    """The verdict for a photo whose result exists, and why: one HEAD of the result, metadata only."""
    if force:
        return "stale-engine", "--force"
    target = result_key(record.key, settings)
    try:
        meta = bucket.head_object(target).headers
    except oss2.exceptions.NotFound:
        return "missing", f"no {target}"
    verdict = staleness(meta, record.etag, engine_tag)
    reasons = {
        "stale-source": f"result made from ETag {meta.get(META_SOURCE_ETAG)}, the photo is now {record.etag}",
        "stale-engine": f"result made by {meta.get(META_ENGINE)}, the engine is now {engine_tag}",
        "up-to-date": "",
    }
    return verdict, reasons[verdict]


@dataclass(frozen=True)
class Claim:
    """A claim object beside a result (``<result>.claim``): an analysis in progress, or one a crash left behind."""

    key: str
    expires: float
    """Unix time after which the function takes the claim over (``x-oss-meta-ossfaces-claim-expires``); 0 if unknown."""

    def live(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.expires

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        when = datetime.fromtimestamp(self.expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.live(now):
            return f"live claim {self.key} (expires at {when}, in {int(self.expires - now)} s)"
        return f"expired claim {self.key} (expired at {when})"


def claim_key(photo: str, settings: Settings) -> str:
    return result_key(photo, settings) + CLAIM_SUFFIX


def read_claim(bucket: oss2.Bucket, key: str) -> Claim | None:
    """The claim at ``key`` (one HEAD), or None when there is none (any more)."""
    try:
        headers = bucket.head_object(key).headers
    except oss2.exceptions.NotFound:
        return None
    try:
        expires = float(headers.get(META_EXPIRES, "0"))
    except ValueError:
        expires = 0.0
    return Claim(key, expires)
