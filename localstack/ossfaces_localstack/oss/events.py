"""What the local OSS tells the rest of the local stack: object-created notices and ``x-oss-process`` requests.

These types are the interface other parts (triggers, the local face engine) build on; they carry no HTTP details.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class ObjectCreated:
    """Emitted after every successful object-created operation, once the object is durable."""

    bucket: str
    key: str
    size: int
    etag: str  # uppercase hex, no quotes, as OSS event records carry it
    event_name: (
        str  # "ObjectCreated:PutObject" | ...PostObject | ...CopyObject | ...AppendObject | ...CompleteMultipartUpload
    )
    request_id: str
    source_ip: str
    time: datetime  # UTC
    content_type: str
    user_meta: dict[str, str] = field(default_factory=dict)  # keys keep their x-oss-meta- prefix
    delta_size: int = 0
    position: int | None = None  # AppendObject only


@dataclass(frozen=True)
class Announcement:
    """What the request that creates an object will announce: known before the commit, so the pending deliveries of
    the notice can be written in the same transaction as the object (see ``Storage.router``)."""

    event: str  # "PutObject" | "PostObject" | "CopyObject" | "AppendObject" | "CompleteMultipartUpload"
    request_id: str
    source_ip: str
    time: datetime  # UTC
    delta_size: int | None = None  # None: the object's size
    position: int | None = None  # AppendObject only

    def notice(
        self, bucket: str, key: str, size: int, etag: str, content_type: str, user_meta: dict[str, str]
    ) -> ObjectCreated:
        return ObjectCreated(
            bucket=bucket, key=key, size=size, etag=etag, event_name=f"ObjectCreated:{self.event}",
            request_id=self.request_id, source_ip=self.source_ip, time=self.time, content_type=content_type,
            user_meta=dict(user_meta), delta_size=size if self.delta_size is None else self.delta_size,
            position=self.position,
        )  # fmt: skip


@dataclass(frozen=True)
class Delivery:
    """One pending delivery of an object-created notice to one receiver (for the local stack: a trigger's function).

    Written in the object's transaction, removed once delivered (or moved to the failed deliveries), replayed after
    a restart: an acknowledged object never loses its event.
    """

    target: str  # who receives it, e.g. the function's qualified name
    source: str  # why, e.g. "trigger:oss-jpg"
    request_id: str  # kept across retries and restarts
    payload: bytes  # the event, as the receiver gets it
    id: int = 0  # assigned when stored


@dataclass(frozen=True)
class FailedDelivery:
    """A delivery whose retries ran out (FC's async OnFailure destination, locally)."""

    id: int
    target: str
    source: str
    request_id: str
    payload: bytes
    error: str
    failed_at: datetime


@dataclass(frozen=True)
class ProcessRequest:
    """An ``x-oss-process`` request on an object, e.g. ``imm/detectface``."""

    bucket: str
    key: str
    process: str
    path: Path  # the object's body on disk; read it, never write it
    size: int
    etag: str
    content_type: str


ProcessResult = tuple[int, str, bytes]  # (status, content type, body)
Processor = Callable[[ProcessRequest], ProcessResult]
Listener = Callable[[ObjectCreated], None]
Router = Callable[[ObjectCreated], Sequence[Delivery]]  # runs inside the object's transaction: fast, no I/O
PendingSink = Callable[[Sequence[Delivery]], None]  # told of new pending deliveries once they are committed
