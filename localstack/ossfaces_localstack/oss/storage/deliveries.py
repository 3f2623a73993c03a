"""Pending deliveries: the events of created objects, written in the object's own transaction (see ``base``)."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3

from ..events import Announcement, Delivery, FailedDelivery
from .base import StoreBase
from .records import ObjectMeta, now_s, ts

log = logging.getLogger("ossfaces_localstack.oss.storage")


class DeliveryStore(StoreBase):
    """The ``deliveries`` and ``failed_deliveries`` tables."""

    def _record_deliveries(
        self, db: sqlite3.Connection, meta: ObjectMeta, announce: Announcement | None
    ) -> list[Delivery]:
        """Inside the object's transaction: the deliveries its notice makes, stored (an error rolls the object back)."""
        if announce is None or self.router is None:
            return []
        notice = announce.notice(meta.bucket, meta.key, meta.size, meta.etag, meta.content_type, meta.user_meta)
        stored = []
        for d in self.router(notice):
            cur = db.execute(
                "INSERT INTO deliveries (target, source, request_id, payload, created) VALUES (?,?,?,?,?)",
                (d.target, d.source, d.request_id, d.payload, now_s()),
            )
            stored.append(dataclasses.replace(d, id=int(cur.lastrowid or 0)))
        return stored

    def _announce_pending(self, pending: list[Delivery]) -> None:
        """After the commit: hand the new deliveries over; if that fails they stay pending for the next start."""
        if pending and self.on_pending is not None:
            try:
                self.on_pending(pending)
            except Exception:
                log.exception("local OSS: %d pending deliveries not handed over now; kept for replay", len(pending))

    def pending_deliveries(self) -> list[Delivery]:
        """Every delivery not yet done, oldest first (what a restart replays)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, source, request_id, payload FROM deliveries ORDER BY id"
            ).fetchall()
        return [Delivery(t, s, r, bytes(p), id=i) for i, t, s, r, p in rows]

    def finish_delivery(self, delivery_id: int) -> None:
        """The receiver got it: forget it."""
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE id=?", (delivery_id,))

    def fail_delivery(self, delivery_id: int, error: str) -> None:
        """Retries ran out: move it to the failed deliveries, with the last error."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO failed_deliveries (id, target, source, request_id, payload, error, failed) "
                "SELECT id, target, source, request_id, payload, ?, ? FROM deliveries WHERE id=?",
                (error, now_s(), delivery_id),
            )
            db.execute("DELETE FROM deliveries WHERE id=?", (delivery_id,))

    def failed_deliveries(self) -> list[FailedDelivery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, source, request_id, payload, error, failed FROM failed_deliveries ORDER BY id"
            ).fetchall()
        return [FailedDelivery(i, t, s, r, bytes(p), e, ts(f)) for i, t, s, r, p, e, f in rows]
