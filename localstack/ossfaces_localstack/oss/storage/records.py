"""What the storage hands out (buckets, objects, listings, multipart uploads) and the codecs of its rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import checksums


def ts(t: int) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def now_s() -> int:
    return int(datetime.now(timezone.utc).timestamp())


def dumps(d: Mapping[str, str]) -> str:
    return json.dumps(dict(d), ensure_ascii=False, sort_keys=True)


def loads(s: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(s)
    return value


@dataclass(frozen=True)
class ObjectMeta:
    """Everything known about one stored object (the body is the blob file)."""

    bucket: str
    key: str
    blob: str
    size: int
    etag: str  # uppercase, unquoted
    crc: int
    mtime: datetime
    content_type: str
    object_type: str  # Normal | Multipart | Appendable
    headers: dict[str, str] = field(
        default_factory=dict
    )  # stored standard headers: Cache-Control, Content-Disposition...
    user_meta: dict[str, str] = field(default_factory=dict)  # full header names, lowercase: x-oss-meta-*
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListEntry:
    key: str
    size: int
    etag: str
    mtime: datetime
    object_type: str


@dataclass(frozen=True)
class Listing:
    contents: list[ListEntry]
    prefixes: list[str]
    truncated: bool
    next_marker: str  # last key or common prefix returned, "" if none


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    content_type: str
    headers: dict[str, str]
    user_meta: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class Part:
    part_number: int
    blob: str
    size: int
    md5: bytes
    crc: int
    mtime: datetime

    @property
    def etag(self) -> str:
        return checksums.etag_of_md5(self.md5)


@dataclass(frozen=True)
class Bucket:
    name: str
    created: datetime
