"""The checkpoint: where a run stands, so that a resumed run neither misses a photo nor sends one twice.

The file holds the last listing position before which every photo was decided or fully dispatched, and the photos that
failed; a resumed run retries those, then lists from after the position, so in-flight async work is not sent twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ossfaces.events import OssRecord
from ossfaces_tools.backfill.listing import Candidate, Scanner

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stands: every photo up to ``after`` (listing order) is decided or dispatched, except ``failed``."""

    bucket: str
    prefix: str
    mode: str
    after: str | None = None
    failed: tuple[tuple[str, int, str | None], ...] = ()

    @staticmethod
    def default_path(bucket: str, prefix: str, mode: str) -> Path:
        digest = hashlib.sha256(f"{bucket}\0{prefix}\0{mode}".encode()).hexdigest()[:12]
        return Path(f".ossfaces-backfill-{bucket}-{digest}.json")

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if data.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{path}: checkpoint version {data.get('version')} is not {CHECKPOINT_VERSION}")
        return cls(
            data["bucket"],
            data["prefix"],
            data["mode"],
            data.get("after"),
            tuple((f["key"], int(f["size"]), f.get("etag")) for f in data.get("failed", [])),
        )

    def save(self, path: Path) -> None:
        """Atomically: a kill leaves the old checkpoint or the new one, never half of one."""
        data = {
            "version": CHECKPOINT_VERSION,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "mode": self.mode,
            "after": self.after,
            "failed": [{"key": k, "size": s, "etag": e} for k, s, e in self.failed],
            "updated": datetime.now(timezone.utc).isoformat(),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)


class Frontier:
    """Tracks photos in flight in listing order and moves the checkpoint once everything before a position is done."""

    SAVE_EVERY = 1.0  # seconds; a dispatch is always saved at once, mere decisions (cheap to redo) at most this often

    def __init__(self, base: Checkpoint, scanner: Scanner, path: Path | None) -> None:
        self.base = base
        self.scanner = scanner
        self.path = path
        self._in_flight: OrderedDict[str, tuple[str | None, bool]] = OrderedDict()
        self._failed: dict[str, tuple[str, int, str | None]] = {}
        self._lock = threading.Lock()
        self._saved: Checkpoint | None = None
        self._saved_at = 0.0

    def start(self, candidate: Candidate) -> None:
        with self._lock:
            self._in_flight[candidate.key] = (candidate.before, False)

    def finish(self, record: OssRecord, *, failed: bool = False, dispatched: bool = False) -> None:
        """The photo is handed over (or decided, or failed: then it is kept in the failed list for the next run)."""
        with self._lock:
            if record.key in self._in_flight:
                self._in_flight[record.key] = (self._in_flight[record.key][0], True)
            if failed:
                self._failed[record.key] = (record.key, record.size, record.etag)
            else:
                self._failed.pop(record.key, None)
            while self._in_flight and next(iter(self._in_flight.values()))[1]:
                self._in_flight.popitem(last=False)
            if failed or dispatched or time.monotonic() - self._saved_at >= self.SAVE_EVERY:
                self._save_locked()

    def remember_failures(self, failed: tuple[tuple[str, int, str | None], ...]) -> None:
        with self._lock:
            for entry in failed:
                self._failed[entry[0]] = entry

    def position(self) -> str | None:
        with self._lock:
            return self._position_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    @property
    def failed(self) -> list[tuple[str, int, str | None]]:
        with self._lock:
            return list(self._failed.values())

    def _position_locked(self) -> str | None:
        if self._in_flight:
            return next(iter(self._in_flight.values()))[0]
        return self.scanner.safe_position()

    def _save_locked(self) -> None:
        if self.path is None:
            return
        current = Checkpoint(
            self.base.bucket, self.base.prefix, self.base.mode, self._position_locked(), tuple(self._failed.values())
        )
        if current != self._saved:
            current.save(self.path)
            self._saved = current
            self._saved_at = time.monotonic()
