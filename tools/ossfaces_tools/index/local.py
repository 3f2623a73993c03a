"""The index on this machine: its parts fetched once into a cache (they never change once written), and a DuckDB
connection whose ``faces`` view is the current rows (superseded rows left out) and ``photos`` one row per photo.

Parts are checked as they arrive: a part whose size or ETag is not the manifest's (cut, replaced, gone) is
:class:`~ossfaces_tools.index.layout.IndexDamaged`, with what to run; nothing is counted from it.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import oss2

from ossfaces_tools.index.layout import IndexDamaged, IndexManifest, IndexStore, PartInfo


def cache_dir() -> Path:
    """``OSSFACES_CACHE_DIR``, else ``~/.cache/ossfaces``."""
    return Path(os.environ.get("OSSFACES_CACHE_DIR") or Path.home() / ".cache" / "ossfaces")


def spill_dir() -> Path:
    """Where DuckDB may spill a sort or join larger than its memory limit (an in-memory database spills nowhere)."""
    path = cache_dir() / "duckdb-spill"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class PartCache:
    """Parts of one bucket's indexes as local files, named by key and ETag (a rewritten key is a new file)."""

    def __init__(self, bucket: oss2.Bucket, root: Path | None = None) -> None:
        self.bucket = bucket
        self.root: Path = (root or cache_dir()) / "index" / str(bucket.bucket_name)

    def path(self, part: PartInfo) -> Path:
        digest = hashlib.sha256(f"{part.key}\0{part.etag}".encode()).hexdigest()[:24]
        return self.root / f"{digest}.parquet"

    def fetch(self, part: PartInfo, repair_hint: str) -> Path:
        path = self.path(part)
        if path.exists() and path.stat().st_size == part.size:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        where = f"index part oss://{self.bucket.bucket_name}/{part.key}"
        try:
            result = self.bucket.get_object_to_file(part.key, str(tmp))
        except oss2.exceptions.NoSuchKey:
            raise IndexDamaged(f"{where} is missing; {repair_hint}") from None
        etag = str(result.etag).strip('"').upper()
        size = tmp.stat().st_size
        if size != part.size or etag != part.etag:
            tmp.unlink(missing_ok=True)
            raise IndexDamaged(
                f"{where} is {size} bytes (ETag {etag}), the manifest says {part.size} bytes (ETag {part.etag}): "
                f"cut or replaced; {repair_hint}"
            )
        tmp.replace(path)  # atomic: a crash leaves no half part under the real name
        return path

    def fetch_all(self, parts: list[PartInfo], repair_hint: str, workers: int = 8) -> list[Path]:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-fetch") as pool:
            return list(pool.map(lambda p: self.fetch(p, repair_hint), parts))


def create_views(con: Any, parts: list[str], deletes: list[str]) -> None:
    """Views ``faces`` (the parts' rows, superseded ones left out) and ``photos`` over local Parquet files."""
    if not parts:
        from ossfaces.indexpart import SCHEMA

        columns = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in SCHEMA)
        con.execute(f"CREATE VIEW faces AS SELECT {columns} WHERE false")
    else:
        files = "[" + ", ".join(_sql_string(p) for p in parts) + "]"
        source = f"read_parquet({files})"
        if deletes:
            gone = "[" + ", ".join(_sql_string(p) for p in deletes) + "]"
            con.execute(f"CREATE VIEW superseded AS SELECT key, max(gen) AS gen FROM read_parquet({gone}) GROUP BY key")
            source = f"(SELECT p.* FROM {source} p ANTI JOIN superseded d ON p.key = d.key AND p.gen < d.gen)"
        con.execute(f"CREATE VIEW faces AS SELECT * FROM {source}")
    con.execute("CREATE VIEW photos AS SELECT * FROM faces WHERE coalesce(face, 0) = 0")


class IndexReader:
    """One manifest's rows in DuckDB: views ``faces`` (every current row) and ``photos`` (one row per photo)."""

    def __init__(self, store: IndexStore, manifest: IndexManifest | None = None, *, threads: int | None = None,
                 memory_limit: str = "1GB", cache: PartCache | None = None) -> None:  # fmt: skip
        import duckdb

        self.store = store
        self.manifest = manifest if manifest is not None else store.load()
        self.cache = cache or PartCache(store.bucket)
        hint = f"run `ossfaces index {store.bucket.bucket_name}{' --prefix ' + store.prefix if store.prefix else ''}` to repair it"
        config: dict[str, Any] = {"memory_limit": memory_limit, "temp_directory": str(spill_dir())}
        if threads:
            config["threads"] = threads
        self.con = duckdb.connect(config=config)
        parts = self.cache.fetch_all(self.manifest.parts, hint)
        deletes = self.cache.fetch_all(self.manifest.deletes, hint)
        self._views([str(p) for p in parts], [str(p) for p in deletes])

    def _views(self, parts: list[str], deletes: list[str]) -> None:
        create_views(self.con, parts, deletes)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
