"""What the handlers work on: the storage, the authenticator, the region, the ``x-oss-process`` hooks and the
object-created listeners – and the one way a created object is announced: its ``Announcement`` goes into the storage
commit (which writes the pending deliveries in the object's transaction), then to the listeners from the same thread.
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
from .events import Announcement, Listener, Processor
from .names import utcnow
from .storage import ObjectMeta, Storage

log = logging.getLogger("ossfaces_localstack.oss.server")


@dataclass
class Backend:
    storage: Storage
    auth: Authenticator
    region: str
    processors: dict[str, Processor] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    restore_seconds: float = 60.0  # how long a RestoreObject takes before the archived object can be read

    @staticmethod
    def announcement(c: Call, event: str, *, delta: int | None = None, position: int | None = None) -> Announcement:
        """The event the object this request creates will carry; given to the storage commit, which writes the
        notice's pending deliveries in the object's own transaction (``Storage.router``)."""
        return Announcement(event, c.request_id, c.source_ip, utcnow(), delta_size=delta, position=position)

    def emit(self, meta: ObjectMeta, announce: Announcement) -> None:
        """Tell listeners about a created object; runs after the commit, and a failing listener never fails the request."""
        notice = announce.notice(meta.bucket, meta.key, meta.size, meta.etag, meta.content_type, meta.user_meta)
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
        """Commit (with the event's pending deliveries) in a worker thread, then notify listeners from that thread."""
        announce = self.announcement(c, event, delta=event_delta, position=event_position)

        def work() -> ObjectMeta:
            meta = fn(*args, announce=announce, **kwargs)
            self.emit(meta, announce)
            return meta

        return await run_in_threadpool(work)


def write_headers(meta: ObjectMeta) -> dict[str, str]:
    """What every write answers: the ETag, the CRC-64 oss2 checks against its own, the server-side encryption."""
    return {"ETag": checksums.quoted(meta.etag), "x-oss-hash-crc64ecma": str(meta.crc), **meta.attrs.sse_headers()}
