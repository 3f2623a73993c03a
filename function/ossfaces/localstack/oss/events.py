"""What the local OSS tells the rest of the local stack: object-created notices and ``x-oss-process`` requests.

These types are the interface other parts (triggers, the local face engine) build on; they carry no HTTP details.
"""

from __future__ import annotations

from collections.abc import Callable
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
