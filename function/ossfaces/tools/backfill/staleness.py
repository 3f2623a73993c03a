"""What a photo needs: its result's metadata (one HEAD, no body) against the photo's ETag and the engine's tag."""

from __future__ import annotations

from typing import Literal

import oss2

from ossfaces.events import OssRecord
from ossfaces.idempotency import META_ENGINE, META_SOURCE_ETAG, staleness
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
