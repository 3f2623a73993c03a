"""``ossfaces index``: bring the face index up to date — plan, fan out one part per chunk, commit one generation.

1. Read the newest manifest and the parts it names (a part that is cut, replaced or gone is dropped: its photos are
   simply read again — the repair), then the results listed now (inventory report, or a listing for small buckets).
2. Plan (:mod:`.plan`): only new or changed results are read; photos whose result changed or vanished are superseded.
3. Fan out (:mod:`.fanout`): chunks of results, each one part with a name fixed in advance (generation, run, chunk),
   on a local process pool or as asynchronous FC invocations paced at ``--rate``; the coordinator then waits until
   every planned part exists. A checkpoint lets an interrupted run resume with the same names (nothing written twice).
4. Commit generation N + 1 (:mod:`.layout`): exactly one of two racing runs wins; the loser removes its parts.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oss2

from ossfaces_tools.access import ToolError
from ossfaces_tools.index.fanout import Fanout, part_event
from ossfaces_tools.index.layout import IndexConflict, IndexDamaged, IndexManifest, IndexStore, PartInfo, new_run_id
from ossfaces_tools.index.local import IndexReader, PartCache
from ossfaces_tools.index.plan import listed_results, make_plan

Report = Callable[[str], None]


@dataclass
class BuildSummary:
    listed: int = 0
    indexed_before: int = 0
    read: int = 0
    """Results read this run: only the new or changed ones."""
    superseded: int = 0
    chunks: int = 0
    parts_written: int = 0
    rows: int = 0
    photos: int = 0
    generation: int = 0
    repaired: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    resumed: bool = False

    @property
    def rate(self) -> float:
        return self.read / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "results_per_s": round(self.rate, 1), "elapsed": round(self.elapsed, 3)}


@dataclass
class BuildOptions:
    chunk: int = 500
    rate: float | None = None
    wait: float = 3600.0
    """Seconds to wait for the fan-out's parts before stopping (the checkpoint keeps the run)."""
    checkpoint: Path | None = None
    inventory: Any = None
    """``(report bucket, inventory Manifest)``: read the results' list from it instead of listing."""


def _checkpoint_path(bucket: str, prefix: str) -> Path:
    digest = hashlib.sha256(f"{bucket}\0{prefix}".encode()).hexdigest()[:12]
    return Path(f".ossfaces-index-{bucket}-{digest}.json")


def _checked_base(
    store: IndexStore, base: IndexManifest, cache: PartCache, report: Report
) -> tuple[IndexManifest, list[str]]:
    """The base manifest without the parts that cannot be read back; a damaged deletes file means a full rebuild."""
    kept: list[PartInfo] = []
    repaired: list[str] = []
    for part in base.parts:
        try:
            cache.fetch(part, "it is dropped and its photos are read again")
            kept.append(part)
        except IndexDamaged as exc:
            repaired.append(exc.message)
            report(f"repair: {exc.message}")
    for deletes in base.deletes:
        try:
            cache.fetch(deletes, "the index is rebuilt")
        except IndexDamaged as exc:
            report(f"repair: {exc.message}")
            return IndexManifest(base.generation, [], [], base.suffix), [*repaired, exc.message]
    return IndexManifest(base.generation, kept, list(base.deletes), base.suffix), repaired


def build_index(
    bucket: oss2.Bucket, prefix: str, suffix: str, fanout: Fanout, options: BuildOptions,
    report: Report = lambda line: None,
) -> BuildSummary:  # fmt: skip
    """Bring the index of ``prefix`` up to date; the summary says how much was read (only what is new or changed)."""
    started = time.perf_counter()
    store = IndexStore(bucket, prefix)
    cache = PartCache(bucket)
    summary = BuildSummary()
    base, summary.repaired = _checked_base(store, store.load(), cache, report)
    checkpoint = options.checkpoint or _checkpoint_path(bucket.bucket_name, prefix)
    saved = _load_checkpoint(checkpoint, bucket.bucket_name, prefix, base.generation)
    with IndexReader(store, base, cache=cache) as reader:
        listed = listed_results(bucket, prefix, suffix, options.inventory)
        plan = make_plan(reader.con, listed, suffix)
        gone = [row[0] for row in reader.con.execute("SELECT key FROM gone ORDER BY key").fetchall()]
    summary.listed, summary.indexed_before, summary.superseded = plan.listed, plan.indexed, plan.superseded
    generation = base.generation + 1
    run = saved["run"] if saved else new_run_id()
    summary.resumed = saved is not None
    chunks = [plan.to_read[i : i + options.chunk] for i in range(0, len(plan.to_read), options.chunk)]
    summary.read, summary.chunks, summary.generation = len(plan.to_read), len(chunks), generation
    report(f"{plan.listed} results listed, {plan.indexed} photos indexed: reading {len(plan.to_read)} new or changed "
           f"in {len(chunks)} chunk(s), {plan.superseded} superseded")  # fmt: skip
    if not chunks and not gone and not summary.repaired:
        summary.generation = base.generation
        summary.elapsed = time.perf_counter() - started
        checkpoint.unlink(missing_ok=True)
        return summary
    _save_checkpoint(checkpoint, bucket.bucket_name, prefix, base.generation, run)
    keys = [store.part_key(generation, run, n, _digest(chunk)) for n, chunk in enumerate(chunks)]
    events = [part_event(bucket, key, chunk, suffix, generation) for key, chunk in zip(keys, chunks, strict=True)]
    parts = fanout.run(store, keys, events, generation, options.rate, options.wait, report)
    written: list[str] = list(keys)
    deletes: list[PartInfo] = []
    if gone:
        deletes_key = store.deletes_key(generation, run)
        deletes.append(_write_deletes(store, deletes_key, gone, generation))
        written.append(deletes_key)
    manifest = IndexManifest(generation, [*base.parts, *parts], [*base.deletes, *deletes], suffix,
                             source="inventory" if options.inventory is not None else "listing")  # fmt: skip
    try:
        store.commit(manifest)
    except IndexConflict:
        store.remove(written)
        checkpoint.unlink(missing_ok=True)
        raise
    checkpoint.unlink(missing_ok=True)
    planned = set(keys)
    stale = [
        o.key for o in oss2.ObjectIteratorV2(bucket, prefix=store.run_dir(generation, run)) if o.key not in planned
    ]
    store.remove(stale)  # parts of an earlier attempt whose chunk changed since: never in a manifest
    summary.parts_written = len(parts)
    summary.rows, summary.photos = sum(p.rows for p in parts), sum(p.photos for p in parts)
    summary.elapsed = time.perf_counter() - started
    return summary


def _digest(chunk: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for key, etag in chunk:
        h.update(f"{key}\0{etag}\n".encode())
    return h.hexdigest()


def _write_deletes(store: IndexStore, key: str, gone: list[str], generation: int) -> PartInfo:
    """The superseded photos as a small Parquet file (key, gen), created once."""
    import tempfile

    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "deletes.parquet")
        con = duckdb.connect()
        con.register("gone_keys", {"key": __import__("numpy").asarray(gone, dtype=object)})
        con.execute(f"COPY (SELECT CAST(key AS VARCHAR) AS key, CAST({generation} AS INTEGER) AS gen FROM gone_keys) "
                    f"TO '{path}' (FORMAT PARQUET)")  # fmt: skip
        con.close()
        store.bucket.put_object_from_file(key, path, headers={"x-oss-forbid-overwrite": "true"})
    info = store.part_info(key, generation)
    if info is None:
        raise ToolError(f"oss://{store.bucket.bucket_name}/{key}: written but not found")
    return PartInfo(info.key, info.size, info.etag, len(gone), generation)


def _load_checkpoint(path: Path, bucket: str, prefix: str, base: int) -> dict[str, Any] | None:
    """The interrupted run to resume: same bucket, prefix and base generation (else it is stale and ignored)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if (data.get("bucket"), data.get("prefix"), data.get("base")) != (bucket, prefix, base):
        return None
    return data


def _save_checkpoint(path: Path, bucket: str, prefix: str, base: int, run: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"bucket": bucket, "prefix": prefix, "base": base, "run": run}), encoding="utf-8")
    tmp.replace(path)
