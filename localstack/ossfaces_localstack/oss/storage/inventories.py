"""Bucket inventory rules (``inventories`` table): each rule kept as its own XML document, as PutBucketInventory took it."""

from __future__ import annotations

from ..errors import OssError
from ..inventory_config import MAX_INVENTORIES, InventoryConfig, from_stored, to_stored
from .multipart import MultipartStore

LIST_PAGE = 100  # ListBucketInventory answers at most 100 rules per request


def no_such_inventory(inventory_id: str) -> OssError:
    return OssError(404, "NoSuchInventory", "The specified inventory configuration does not exist.",
                    extra={"InventoryId": inventory_id})  # fmt: skip


class InventoryStore(MultipartStore):
    """PutBucketInventory, GetBucketInventory, ListBucketInventory, DeleteBucketInventory."""

    def put_inventory(self, bucket: str, config: InventoryConfig) -> None:
        with self._tx() as db:
            self._require_bucket(db, bucket)
            self._require_bucket(db, config.destination_bucket)
            if db.execute("SELECT 1 FROM inventories WHERE bucket=? AND id=?", (bucket, config.id)).fetchone():
                raise OssError(409, "InventoryAlreadyExist", "The inventory configuration already exists.",
                               extra={"InventoryId": config.id}, ec="0020-00000042")  # fmt: skip
            (count,) = db.execute("SELECT count(*) FROM inventories WHERE bucket=?", (bucket,)).fetchone()
            if count >= MAX_INVENTORIES:
                raise OssError(400, "TooManyInventory", f"A bucket can have at most {MAX_INVENTORIES} inventories.")
            db.execute("INSERT INTO inventories VALUES (?,?,?)", (bucket, config.id, to_stored(config)))

    def get_inventory(self, bucket: str, inventory_id: str) -> InventoryConfig:
        with self._lock:
            self._require_bucket(self._db, bucket)
            row = self._db.execute(
                "SELECT config FROM inventories WHERE bucket=? AND id=?", (bucket, inventory_id)
            ).fetchone()
        if row is None:
            raise no_such_inventory(inventory_id)
        return from_stored(row[0])

    def list_inventories(self, bucket: str, after: str = "") -> tuple[list[InventoryConfig], bool]:
        """Up to one page of rules after the id ``after``, in id order, and whether more follow."""
        with self._lock:
            self._require_bucket(self._db, bucket)
            rows = self._db.execute(
                "SELECT config FROM inventories WHERE bucket=? AND id>? ORDER BY id LIMIT ?",
                (bucket, after, LIST_PAGE + 1),
            ).fetchall()
        return [from_stored(r[0]) for r in rows[:LIST_PAGE]], len(rows) > LIST_PAGE

    def delete_inventory(self, bucket: str, inventory_id: str) -> None:
        with self._tx() as db:
            self._require_bucket(db, bucket)
            db.execute("DELETE FROM inventories WHERE bucket=? AND id=?", (bucket, inventory_id))
