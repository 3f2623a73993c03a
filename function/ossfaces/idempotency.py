"""At-least-once delivery must never cost a second analysis of the same photo version.

Both mechanisms are objects beside the photo, decided from metadata alone (no body is read):

- **done**: the result ``<key>.faces.json`` records the source ETag and the engine that produced it. One HEAD tells
  whether this version was already analysed by this engine; sequential redeliveries stop there.
- **claimed**: before analysing, the invocation creates ``<key>.faces.json.claim`` with ``x-oss-forbid-overwrite`` (an
  atomic create-if-absent in OSS) and deletes it when done. A simultaneous duplicate finds the claim and fails as
  *transient*, so FC retries it later, when the result is done. A claim left by a crashed instance expires after the
  lease (the function's timeout plus a margin) and is then taken over, so no photo is lost to a dead claim. The claim
  names the request id that holds it (the local stack releases the claims of the invocations its own crash killed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

import oss2

from ossfaces.errors import TransientError
from ossfaces.storage import classify, is_missing

log = logging.getLogger("ossfaces")

META_SOURCE_ETAG = "x-oss-meta-ossfaces-source-etag"
META_ENGINE = "x-oss-meta-ossfaces-engine"
META_FACES = "x-oss-meta-ossfaces-faces"
META_STATUS = "x-oss-meta-ossfaces-status"
META_EXPIRES = "x-oss-meta-ossfaces-claim-expires"
META_CLAIM_REQUEST = "x-oss-meta-ossfaces-claim-request"
CLAIM_SUFFIX = ".claim"


def result_meta(bucket: oss2.Bucket, result: str) -> Mapping[str, str] | None:
    """The metadata headers of ``result`` (one HEAD), or None when there is no result yet."""
    try:
        headers: Mapping[str, str] = bucket.head_object(result).headers
    except (oss2.exceptions.OssError, OSError) as exc:
        if is_missing(exc):
            return None
        raise classify(exc, f"checking oss://{bucket.bucket_name}/{result}") from exc
    return headers


Staleness = Literal["stale-source", "stale-engine", "up-to-date"]


def staleness(meta: Mapping[str, str], etag: str | None, engine_tag: str) -> Staleness:
    """How a result (its metadata headers) relates to the photo version ``etag`` and the engine: the one rule."""
    if not etag or meta.get(META_SOURCE_ETAG) != etag:
        return "stale-source"
    if meta.get(META_ENGINE) != engine_tag:
        return "stale-engine"
    return "up-to-date"


@contextmanager
def claimed(bucket: oss2.Bucket, result: str, etag: str, lease_s: float, request_id: str = "") -> Iterator[None]:
    """Hold the claim on analysing ``result``'s photo for the duration of the block; released however it ends."""
    claim = result + CLAIM_SUFFIX
    _acquire(bucket, claim, etag, lease_s, request_id)
    try:
        yield
    finally:
        try:
            bucket.delete_object(claim)
        except (oss2.exceptions.OssError, OSError) as exc:  # the lease expires by itself; the result is what matters
            log.warning("could not release claim oss://%s/%s: %s", bucket.bucket_name, claim, exc)


def _acquire(bucket: oss2.Bucket, claim: str, etag: str, lease_s: float, request_id: str = "") -> None:
    headers = {"x-oss-forbid-overwrite": "true", "Content-Type": "application/octet-stream", META_SOURCE_ETAG: etag}
    if request_id:
        headers[META_CLAIM_REQUEST] = request_id
    for _ in range(2):  # a second try only after removing an expired claim
        headers[META_EXPIRES] = str(int(time.time() + lease_s))
        try:
            bucket.put_object(claim, b"", headers=headers)
            return
        except (oss2.exceptions.OssError, OSError) as exc:
            if getattr(exc, "status", None) != 409:
                raise classify(exc, f"claiming oss://{bucket.bucket_name}/{claim}") from exc
        try:
            expires = int(bucket.head_object(claim).headers.get(META_EXPIRES, "0"))
        except (oss2.exceptions.OssError, OSError) as exc:
            if is_missing(exc):
                continue  # released between our PUT and HEAD: try again
            raise classify(exc, f"reading oss://{bucket.bucket_name}/{claim}") from exc
        except ValueError:
            expires = 0
        if time.time() < expires:
            break
        log.warning("taking over expired claim oss://%s/%s", bucket.bucket_name, claim)
        try:
            bucket.delete_object(claim)
        except (oss2.exceptions.OssError, OSError) as exc:
            raise classify(exc, f"removing expired claim oss://{bucket.bucket_name}/{claim}") from exc
    raise TransientError(
        "InProgress",
        f"another invocation is analysing this photo (oss://{bucket.bucket_name}/{claim}); "
        "this delivery fails so that FC retries it once that work is done",
    )
