"""What the storage hands out (buckets, objects, listings, multipart uploads) and the codecs of its rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import checksums


def ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def now_s() -> int:
    return int(datetime.now(timezone.utc).timestamp())


def dumps(d: Mapping[str, str]) -> str:
    return json.dumps(dict(d), ensure_ascii=False, sort_keys=True)


def loads(s: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(s)
    return value


ARCHIVE_CLASSES = frozenset({"Archive", "ColdArchive", "DeepColdArchive"})


@dataclass(frozen=True)
class Restore:
    """A RestoreObject of an archived object: its copy is being made until ``ready``, readable until ``expires``
    (epoch seconds); after that the object is frozen again, as if never restored."""

    ready: float
    expires: float

    def state(self, now: float) -> str:
        """``ongoing``, ``restored`` or ``expired``."""
        return "ongoing" if now < self.ready else "restored" if now < self.expires else "expired"


@dataclass(frozen=True)
class ObjectAttrs:
    """What OSS keeps about an object besides its body and headers (one JSON column, defaults left out)."""

    storage_class: str = "Standard"  # Standard | IA | Archive | ColdArchive | DeepColdArchive
    acl: str = "default"  # default | private | public-read | public-read-write
    md5: str = ""  # base64 MD5 of the whole body when known (simple uploads, sequential multipart): Content-MD5
    symlink: str | None = None  # a symlink's target key
    restore: Restore | None = None
    # server-side encryption as requested (x-oss-server-side-encryption AES256 | KMS | SM4, the data cipher and KMS
    # key of KMS): reported back like OSS does, the bytes are stored as they came (a stand-in, see docs/localstack.md)
    sse: str = ""
    sse_data: str = ""
    sse_key: str = ""

    def to_json(self) -> str:
        d: dict[str, Any] = {}
        if self.storage_class != "Standard":
            d["class"] = self.storage_class
        if self.acl != "default":
            d["acl"] = self.acl
        if self.md5:
            d["md5"] = self.md5
        if self.symlink is not None:
            d["symlink"] = self.symlink
        if self.restore is not None:
            d["restore"] = [self.restore.ready, self.restore.expires]
        if self.sse:
            d["sse"] = [self.sse, self.sse_data, self.sse_key]
        return json.dumps(d, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> ObjectAttrs:
        d = json.loads(s)
        restore = d.get("restore")
        sse, sse_data, sse_key = d.get("sse", ("", "", ""))
        return cls(
            d.get("class", "Standard"), d.get("acl", "default"), d.get("md5", ""), d.get("symlink"),
            Restore(float(restore[0]), float(restore[1])) if restore else None, sse, sse_data, sse_key,
        )  # fmt: skip

    def sse_headers(self) -> dict[str, str]:
        """What OSS answers about an object's server-side encryption (writes, GET and HEAD)."""
        pairs = [("x-oss-server-side-encryption", self.sse), ("x-oss-server-side-data-encryption", self.sse_data),
                 ("x-oss-server-side-encryption-key-id", self.sse_key)]  # fmt: skip
        return {name: value for name, value in pairs if value}

    def frozen(self, now: float) -> bool:
        """True if the body cannot be read now: an archived class not restored (or whose restored copy expired)."""
        return self.storage_class in ARCHIVE_CLASSES and (self.restore is None or self.restore.state(now) != "restored")


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
    attrs: ObjectAttrs = field(default_factory=ObjectAttrs)


@dataclass(frozen=True)
class ListEntry:
    key: str
    size: int
    etag: str
    mtime: datetime
    object_type: str
    attrs: ObjectAttrs = field(default_factory=ObjectAttrs)


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
    attrs: ObjectAttrs = field(default_factory=ObjectAttrs)  # the object's storage class and ACL
    sequential: bool = False  # ``?sequential``: parts must arrive in order; the object gets a whole-body MD5

    def attrs_json(self) -> str:
        d = json.loads(self.attrs.to_json())
        if self.sequential:
            d["sequential"] = True
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def parse_attrs(s: str) -> tuple[ObjectAttrs, bool]:
        return ObjectAttrs.from_json(s), bool(json.loads(s).get("sequential", False))


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
