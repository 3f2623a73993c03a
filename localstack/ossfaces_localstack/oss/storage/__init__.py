"""Objects on disk (the local OSS's storage): immutable blobs named by random ids, all metadata in one SQLite database.

``base`` says why this layout; the roles are layered, each module one table group: ``deliveries`` (pending events),
``objects`` (buckets, objects, listings), ``multipart`` (uploads and parts), ``inventories`` (inventory rules). :class:`Storage` is all of them.
"""

from __future__ import annotations

from .blobs import BlobWriter
from .inventories import InventoryStore
from .multipart import MAX_PART_NUMBER, MIN_PART_SIZE
from .objects import appendable_etag, position_not_equal
from .records import ARCHIVE_CLASSES, Bucket, ListEntry, Listing, ObjectAttrs, ObjectMeta, Part, Restore, Upload


class Storage(InventoryStore):
    """The data directory: buckets, objects, multipart uploads, pending deliveries, inventory rules."""


__all__ = [
    "ARCHIVE_CLASSES",
    "MAX_PART_NUMBER",
    "MIN_PART_SIZE",
    "BlobWriter",
    "Bucket",
    "ListEntry",
    "Listing",
    "ObjectAttrs",
    "ObjectMeta",
    "Part",
    "Restore",
    "Storage",
    "Upload",
    "appendable_etag",
    "position_not_equal",
]
