"""What an index run must read: the results listed now (inventory or listing) against what the index holds.

The difference is computed in DuckDB, so a bucket of millions of results is a join, not a Python dict: a result is
read when its photo is not in the index or its ETag differs from the one the index read; a photo whose result is gone
or changed gets a "superseded" row, so its old rows stop counting the moment the new generation is committed.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oss2

from ossfaces_tools.index.layout import INDEX_DIR


def listed_results(bucket: oss2.Bucket, prefix: str, suffix: str, inventory: Any = None) -> Iterator[tuple[str, str]]:
    """``(photo key, result ETag)`` of every result under ``prefix``: from an inventory report (``inventory``: an
    :class:`~ossfaces_tools.inventory.Manifest` and the bucket it lies in) or by listing the bucket."""
    if inventory is not None:
        from ossfaces_tools.inventory import iter_objects

        report_bucket, manifest = inventory
        objects: Iterable[tuple[str, str | None]] = (
            (o.key, o.etag) for o in iter_objects(report_bucket, manifest, prefix)
        )
    else:
        objects = ((o.key, o.etag) for o in oss2.ObjectIteratorV2(bucket, prefix=prefix, max_keys=1000))
    for key, etag in objects:
        if key.endswith(suffix) and INDEX_DIR not in key:
            yield key[: -len(suffix)], (etag or "").strip('"').upper()


def load_table(con: Any, table: str, rows: Iterable[tuple[str, ...]], columns: tuple[str, ...]) -> int:
    """Bulk-load string rows into a new DuckDB table through a temp CSV (much faster than row inserts)."""
    fd, name = tempfile.mkstemp(suffix=".csv")
    path = Path(name)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            for row in rows:
                writer.writerow(row)
                count += 1
        spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
        source = str(path).replace("'", "''")
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{source}', header=false, columns={spec}, "
            "quote='\"', escape='\"')"
        )
    finally:
        path.unlink(missing_ok=True)
    return count


@dataclass(frozen=True)
class Plan:
    listed: int
    indexed: int
    to_read: list[tuple[str, str]]
    """``(result key, listed ETag)`` in key order."""
    superseded: int
    """Photos whose rows in the index stop counting (result changed or gone)."""


def make_plan(con: Any, listed: Iterable[tuple[str, str]], suffix: str) -> Plan:
    """Needs the ``photos`` view (the index's current photos); leaves table ``gone(key)`` for the deletes file."""
    count = load_table(con, "listed", listed, ("key", "etag"))
    con.execute("CREATE TABLE indexed AS SELECT key, result_etag FROM photos")
    (indexed,) = con.execute("SELECT count(*) FROM indexed").fetchone()
    to_read = con.execute(
        "SELECT l.key, l.etag FROM listed l LEFT JOIN indexed i ON l.key = i.key "
        "WHERE i.key IS NULL OR i.result_etag IS DISTINCT FROM l.etag ORDER BY l.key"
    ).fetchall()
    con.execute(
        "CREATE TABLE gone AS SELECT i.key FROM indexed i LEFT JOIN listed l ON l.key = i.key "
        "WHERE l.key IS NULL OR i.result_etag IS DISTINCT FROM l.etag"
    )
    (superseded,) = con.execute("SELECT count(*) FROM gone").fetchone()
    return Plan(count, int(indexed), [(k + suffix, e) for k, e in to_read], int(superseded))
