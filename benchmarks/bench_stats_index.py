"""Benchmark: ``stats`` from the face index at scale — seconds and peak RSS over N faces (goal: 100 M faces in ≤ 20 s,
≤ 2 GB), against the per-result scan rate.

The index parts are synthetic but in the real schema (``ossfaces.indexpart.SCHEMA``, zstd Parquet as the part writer
writes them): DuckDB generates N face rows (~1.6 faces per photo, 3 % error documents, 1 % unreadable, ages 0-95 with
AgeSD on 70 % of faces, genders, 8 emotions, 1,000 folders) in parts of 2 M rows — what compaction leaves. No
embedding column values (NULL): stats never reads that column, and Parquet reads only the columns a query names.
The query runs in a fresh process (``--child``) through ``ossfaces_tools.index.query.index_stats``, the code
``ossfaces stats`` runs, reporting its own ``VmHWM``.

    .venv/bin/python benchmarks/bench_stats_index.py [--faces 100000000] [--keep DIR] [--scan-rate 567]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PART_ROWS = 2_000_000


def generate(directory: Path, faces: int) -> list[Path]:
    import duckdb

    from ossfaces.indexpart import SCHEMA

    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    emotions = "['HAPPY','CALM','SAD','ANGRY','SURPRISED','SCARED','DISGUSTED','NEUTRAL']"
    values = {
        "key": "'albums/' || (photo % 1000) || '/' || photo || '.jpg'",
        "result_etag": "md5(photo::VARCHAR)", "source_etag": "md5((photo * 7)::VARCHAR)",
        "engine": "CASE WHEN photo % 5 = 0 THEN 'imm/imm/detectface@v1' ELSE 'local/1.0' END", "gen": "1",
        "status": "CASE WHEN photo % 100 = 0 THEN 'unreadable' WHEN photo % 100 < 4 THEN 'error' ELSE 'ok' END",
        "error": "CASE WHEN photo % 100 BETWEEN 1 AND 3 THEN 'InvalidImage.Corrupt' END",
        "faces": "CASE WHEN photo % 100 < 4 THEN 0 ELSE 2 END",
        "face": "CASE WHEN photo % 100 < 4 THEN NULL ELSE i % 2 END",
        "age": "CASE WHEN photo % 100 < 4 THEN NULL ELSE (hash(i) % 96)::SMALLINT END",
        "age_sd": "CASE WHEN hash(i * 3) % 10 < 7 THEN 2.5 + (hash(i) % 20) / 4.0 END",
        "gender": "CASE WHEN photo % 100 < 4 THEN NULL WHEN hash(i * 5) % 2 = 0 THEN 'MALE' ELSE 'FEMALE' END",
        "gender_confidence": "0.9", "emotion": f"CASE WHEN photo % 100 >= 4 THEN {emotions}[(1 + hash(i * 11) % 8)::BIGINT] END",
        "quality": "0.8", "box_left": "10", "box_top": "20", "box_width": "90", "box_height": "100",
    }  # fmt: skip
    select = ", ".join(f"CAST({values.get(name, 'NULL')} AS {kind}) AS {name}" for name, kind in SCHEMA)
    paths = []
    for n, first in enumerate(range(0, faces, PART_ROWS)):
        rows = min(PART_ROWS, faces - first)
        path = directory / f"part-{n:05d}.parquet"
        paths.append(path)
        if path.exists():
            continue
        con.execute(
            f"COPY (SELECT {select} FROM (SELECT i, i // 2 AS photo FROM range({first}, {first + rows}) t(i))) "
            f"TO '{path}' (FORMAT PARQUET, COMPRESSION ZSTD)"
        )
    con.close()
    return paths


def child(directory: Path) -> dict[str, float | int]:
    import duckdb

    from ossfaces_tools.index.local import create_views
    from ossfaces_tools.index.query import index_stats

    started = time.perf_counter()
    con = duckdb.connect(config={"memory_limit": "1GB"})
    create_views(con, [str(p) for p in sorted(directory.glob("*.parquet"))], [])
    acc = index_stats(con)
    elapsed = time.perf_counter() - started
    peak = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) // 1024
    return {
        "faces": acc.overall.faces,
        "documents": acc.overall.documents,
        "seconds": round(elapsed, 2),
        "peak_rss_mb": peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the generated parts here (reused next time).")
    parser.add_argument(
        "--scan-rate", type=float, default=567.0, help="Results/s of the per-result scan (bench_stats)."
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp) / "parts"
        started = time.perf_counter()
        paths = generate(directory, args.faces)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"{len(paths)} parts, {size / 1e9:.2f} GB, generated in {time.perf_counter() - started:.0f} s", flush=True
        )
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(directory)], capture_output=True, text=True, check=True
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
    photos = result["documents"]
    scan_s = photos / args.scan_rate
    print(json.dumps({"command": f"benchmarks/bench_stats_index.py --faces {args.faces}", "load_average": os.getloadavg()[0],
                      **result, "scan_same_results_s (at --scan-rate)": round(scan_s), "speed-up": round(scan_s / result["seconds"])}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "function"), str(ROOT / "tools")]
    sys.exit(main())
