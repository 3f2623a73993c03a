"""What the handlers work on: the storage, the authenticator, the region, the ``x-oss-process`` hooks and the
object-created listeners – and the one way a created object is announced (after its commit, from the same thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from . import checksums
from .auth import Authenticator
from .call import Call
from .events import Listener, ObjectCreated, Processor
from .names import utcnow
from .storage import ObjectMeta, Storage

log = logging.getLogger("ossfaces.localstack.oss.server")


@dataclass
class Backend:
    storage: Storage
    auth: Authenticator
    region: str
    processors: dict[str, Processor] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)

    def emit(
        self, c: Call, meta: ObjectMeta, event: str, *, delta: int | None = None, position: int | None = None
    ) -> None:
        """Tell listeners about a created object; runs after the commit, and a failing listener never fails the request."""
        notice = ObjectCreated(
            bucket=meta.bucket,
            key=meta.key,
            size=meta.size,
            etag=meta.etag,
            event_name=f"ObjectCreated:{event}",
            request_id=c.request_id,
            source_ip=c.source_ip,
            time=utcnow(),
            content_type=meta.content_type,
            user_meta=dict(meta.user_meta),
            delta_size=meta.size if delta is None else delta,
            position=position,
        )
        for listener in list(self.listeners):
            try:
                listener(notice)
            except Exception:
                log.exception("local OSS: object-created listener %r failed for %s/%s", listener, meta.bucket, meta.key)

    async def commit_and_emit(
        self,
        c: Call,
        event: str,
        fn: Callable[..., ObjectMeta],
        *args: Any,
        event_delta: int | None = None,
        event_position: int | None = None,
        **kwargs: Any,
    ) -> ObjectMeta:
        """Commit in a worker thread, then notify listeners from that thread: the event exists once the object does."""

        def work() -> ObjectMeta:
            meta = fn(*args, **kwargs)
            self.emit(c, meta, event, delta=event_delta, position=event_position)
            return meta

        return await run_in_threadpool(work)


def write_headers(meta: ObjectMeta) -> dict[str, str]:
    """What every write answers: the ETag and the CRC-64 oss2 checks against its own."""
    return {"ETag": checksums.quoted(meta.etag), "x-oss-hash-crc64ecma": str(meta.crc)}
