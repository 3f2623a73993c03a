"""The signature nonces the local IMM endpoint has seen, kept in SQLite beside the local OSS's data, so that a
replayed request is refused across a restart of the stack too. A nonce is kept for twice the signature's time window
(a request dated up to 15 minutes ahead can be replayed up to 15 minutes after its date), then forgotten."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class NonceStore:
    """``use(nonce, now)`` is True the first time within the window, False for a replay."""

    def __init__(self, path: Path | None, keep_s: float) -> None:
        self.keep_s = keep_s
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, seen REAL NOT NULL)")
        self._db.commit()
        self._lock = threading.Lock()

    def use(self, nonce: str, now: float) -> bool:
        with self._lock, self._db:
            self._db.execute("DELETE FROM nonces WHERE seen < ?", (now - self.keep_s,))
            inserted = self._db.execute("INSERT OR IGNORE INTO nonces (nonce, seen) VALUES (?, ?)", (nonce, now))
            return inserted.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
