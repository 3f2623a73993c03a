"""Objects on disk (the local OSS's storage): immutable blobs named by random ids, all metadata in one SQLite database.

``base`` says why this layout; the roles are layered, each module one table group: ``deliveries`` (pending events),
``objects`` (buckets, objects, listings), ``multipart`` (uploads and parts). :class:`Storage` is all of them.
"""

from __future__ import annotations

from .blobs import BlobWriter
from .multipart import MAX_PART_NUMBER, MIN_PART_SIZE, MultipartStore
from .objects import appendable_etag, position_not_equal
from .records import Bucket, ListEntry, Listing, ObjectMeta, Part, Upload


class Storage(MultipartStore):
    """The data directory: buckets, objects, multipart uploads, pending deliveries."""


__all__ = [
    "MAX_PART_NUMBER",
    "MIN_PART_SIZE",
    "BlobWriter",
    "Bucket",
    "ListEntry",
    "Listing",
    "ObjectMeta",
    "Part",
    "Storage",
    "Upload",
    "appendable_etag",
    "position_not_equal",
]
