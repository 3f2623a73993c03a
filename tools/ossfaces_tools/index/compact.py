"""Compaction: every current row rewritten into a few large parts (superseded rows dropped), committed as the next
generation like any run; then the parts, deletes files and manifests it replaced are removed.

Small parts are what the fan-out makes (one per chunk); a query over thousands of them spends its time opening
files. A concurrent run that commits first makes compaction stop with ``IndexConflict`` (nothing is removed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ossfaces_tools.index.layout import IndexConflict, IndexManifest, IndexStore, PartInfo, new_run_id
from ossfaces_tools.index.local import IndexReader

BYTES_PER_PART = 256 * 1024 * 1024


def _count(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def compact(store: IndexStore, bytes_per_part: int = BYTES_PER_PART) -> dict[str, int]:
    base = store.load()
    if len(base.parts) <= 1 and not base.deletes:
        return {"parts_before": len(base.parts), "parts_after": len(base.parts)}
    generation, run = base.generation + 1, new_run_id()
    parts: list[PartInfo] = []
    with tempfile.TemporaryDirectory() as tmp, IndexReader(store, base) as reader:
        out = Path(tmp) / "parts"
        reader.con.execute(
            f"COPY (SELECT * FROM faces ORDER BY key, face) TO '{out}' "
            f"(FORMAT PARQUET, COMPRESSION ZSTD, FILE_SIZE_BYTES {bytes_per_part})"
        )
        for n, path in enumerate(sorted(out.glob("*.parquet"))):
            rows = _count(reader.con, f"SELECT count(*) FROM read_parquet('{path}')")
            photos = _count(reader.con, f"SELECT count(*) FROM read_parquet('{path}') WHERE coalesce(face, 0) = 0")
            key = store.part_key(generation, run, n, "compacted")
            store.bucket.put_object_from_file(key, str(path), headers={"x-oss-forbid-overwrite": "true"})
            info = store.part_info(key, generation)
            assert info is not None
            parts.append(PartInfo(info.key, info.size, info.etag, rows, generation, photos))
    manifest = IndexManifest(generation, parts, [], base.suffix, source="compaction")
    try:
        store.commit(manifest)
    except IndexConflict:
        store.remove([p.key for p in parts])
        raise
    old = [p.key for p in [*base.parts, *base.deletes]]
    old += [key for gen, key in store.generations() if gen < generation]
    store.remove(old)
    return {"parts_before": len(base.parts), "parts_after": len(parts)}
