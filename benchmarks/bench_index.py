"""Benchmark: the face index — build rate on the local pool against the per-result scan, the incremental run after
1 % new photos, the FC fan-out projected to 100 M photos, and backfill's first invocation from a 1 M-object inventory.

Everything runs against the local OSS over HTTP with the real code paths: result documents in the real engine's shape
(``FacesDocument``, 0-4 faces, embeddings on 70 % of faces, 3 % error documents) PUT by oss2; the index built by
``build_index`` on a ``LocalPool`` (the function's part writer in worker processes); the scan is ``stats``'s
``read_documents`` on 16 threads (the peer in the same run). The FC projection uses one worker's measured rate as
one FC instance's (an instance runs the same part writer), at ``--instances`` instances. Backfill: a 1 M-row inventory
report written as OSS writes it, read by the backfill loop with a recording dispatcher (no FC here): the figure is the
time from start (manifest read, rows counted for the estimate) to the first batch handed over.

    .venv/bin/python benchmarks/bench_index.py [--results 20000] [--inventory-objects 1000000] [--instances 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools")]

import oss2  # noqa: E402

from ossfaces.document import EMOTIONS, EngineInfo, Face, FacesDocument, SourceInfo  # noqa: E402
from ossfaces.embedding import embedding_field  # noqa: E402
from ossfaces_localstack.oss import LocalOss  # noqa: E402
from ossfaces_tools.access import BucketAccess  # noqa: E402

SUFFIX = ".faces.json"


def document(i: int, rng: random.Random) -> bytes:
    key = f"albums/{i % 100:02d}/{i:07d}.jpg"
    source, engine = SourceInfo(Key=key, ETag=f"{i:032X}", Size=50_000), EngineInfo(Name="local", Version="1.0")
    if rng.random() < 0.03:
        return FacesDocument(
            Source=source, Engine=engine, Error={"Code": "InvalidImage.Corrupt", "Message": "x"}
        ).to_json()
    faces = [
        Face(Age=rng.randint(0, 90), AgeSD=3.5, Gender=rng.choice(["MALE", "FEMALE"]), GenderConfidence=0.9,
             Emotion=rng.choice(EMOTIONS), FaceQuality=0.9,
             FaceAttributes={"FaceBoundary": {"Left": 10, "Top": 20, "Width": 90, "Height": 100}},
             Embedding=embedding_field([rng.gauss(0, 1) for _ in range(128)], can_seed=True) if rng.random() < 0.7 else None)
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))
    ]  # fmt: skip
    return FacesDocument(Source=source, Engine=engine, Faces=faces).to_json()


def upload(bucket: oss2.Bucket, first: int, count: int) -> None:
    rng = random.Random(first)
    bodies = [(f"albums/{i % 100:02d}/{i:07d}.jpg{SUFFIX}", document(i, rng)) for i in range(first, first + count)]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda kb: bucket.put_object(kb[0], kb[1]), bodies))


def build(oss: LocalOss, bucket: oss2.Bucket, workers: int) -> Any:
    from ossfaces_tools.index.build import BuildOptions, build_index
    from ossfaces_tools.index.fanout import LocalPool

    access = BucketAccess(bucket.bucket_name, oss_endpoint=oss.endpoint, access_key_id=oss.access_key_id,
                          access_key_secret=oss.access_key_secret)  # fmt: skip
    return build_index(bucket, "", SUFFIX, LocalPool(access, workers), BuildOptions(chunk=1000))


def scan_rate(bucket: oss2.Bucket) -> float:
    from ossfaces_tools.stats import StatsAccumulator, collect, read_documents

    started = time.perf_counter()
    acc = collect(read_documents(bucket, "", SUFFIX, workers=16), StatsAccumulator())
    return (acc.overall.documents + acc.overall.unreadable) / (time.perf_counter() - started)


def get_ceiling(oss: LocalOss, keys: list[str], processes: int = 2, threads: int = 8, seconds: float = 5.0) -> float:
    """GETs a second that the local OSS answers to ``processes`` client processes of ``threads`` threads each, bodies
    read and dropped, nothing parsed: the most any reader of results can reach on this machine (the server is one
    Python process on the same cores)."""
    listing = Path("keys.txt")
    listing.write_text("\n".join(keys), encoding="utf-8")
    command = [sys.executable, __file__, "--get-child", oss.endpoint, str(listing), str(threads), str(seconds)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    return sum(float(child.communicate()[0]) for child in children)


def get_child(endpoint: str, listing: Path, threads: int, seconds: float) -> None:
    from ossfaces_localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    bucket = oss2.Bucket(oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), endpoint, "bench-index")
    keys = listing.read_text(encoding="utf-8").split("\n")
    deadline = time.perf_counter() + seconds

    def reader(first: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            bucket.get_object(keys[(first + done * threads) % len(keys)]).read()
            done += 1
        return done

    with ThreadPoolExecutor(threads) as pool:
        print(sum(pool.map(reader, range(threads))) / seconds)


def backfill_first_invocation(oss: LocalOss, bucket: oss2.Bucket, objects: int) -> dict[str, Any]:
    """A ``objects``-row inventory report of photos (no results yet), then the backfill loop until its first batch."""
    import csv
    import gzip
    import hashlib
    import io

    from ossfaces.settings import Settings
    from ossfaces_tools.backfill.pacing import inventory_rows
    from ossfaces_tools.backfill.run import Backfill, Options
    from ossfaces_tools.inventory import iter_objects, open_report

    oss.storage.create_bucket("bench-inventory")
    dest = oss2.Bucket(bucket.auth, oss.endpoint, "bench-inventory")
    root = f"inv/{bucket.bucket_name}/daily/"
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for i in range(objects):
        writer.writerow([bucket.bucket_name, f"photos%2F{i:08d}.jpg", 120_000, "2026-01-01T00:00:00.000Z", f"{i:032X}"])
    raw = gzip.compress(text.getvalue().encode(), compresslevel=6)
    dest.put_object(f"{root}data/0000.csv.gz", raw)
    manifest = json.dumps({"creationTimestamp": "1767225600", "destinationBucket": "bench-inventory", "fileFormat": "CSV",
                           "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag", "sourceBucket": bucket.bucket_name,
                           "files": [{"key": f"{root}data/0000.csv.gz", "size": len(raw), "MD5checksum": hashlib.md5(raw).hexdigest().upper()}],
                           "version": "2019-09-01"}).encode()  # fmt: skip
    dest.put_object(f"{root}2026-01-01T00-00Z/manifest.json", manifest)

    class Recorder:
        mode = "fc"
        sent = 0

        def dispatch(self, records: list[Any]) -> None:
            self.sent += len(records)

    started = time.perf_counter()
    report = open_report(dest, root)
    rows = inventory_rows(dest, report)
    settings = Settings().model_copy(update={"oss_endpoint": oss.endpoint})
    with tempfile.TemporaryDirectory() as tmp:
        options = Options(
            workers=8, batch=10, stop_after=5000, checkpoint=Path(tmp) / "cp.json", objects=iter_objects(dest, report)
        )
        run = Backfill(bucket, "cn-hangzhou", settings, "local/1.0", Recorder(), options)
        run.run()
    assert run.first_sent is not None
    return {"inventory_objects": rows, "first_invocation_after_s": round(run.first_sent - started, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--inventory-objects", type=int, default=1_000_000)
    parser.add_argument("--get-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.get_child:
        endpoint, listing, threads, seconds = args.get_child
        get_child(endpoint, Path(listing), int(threads), float(seconds))
        return 0
    out: dict[str, Any] = {"command": f"benchmarks/bench_index.py --results {args.results} --workers {args.workers} "
                           f"--inventory-objects {args.inventory_objects}", "cpus": os.cpu_count()}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OSSFACES_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.chdir(tmp)
        with LocalOss(Path(tmp) / "oss", buckets=["bench-index"], fsync=False) as oss:
            bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, "bench-index")
            upload(bucket, 0, args.results)
            out["load_average_before"] = os.getloadavg()[0]
            out["scan_results_per_s"] = round(scan_rate(bucket), 1)
            first = build(oss, bucket, args.workers)
            out["build"] = {"read": first.read, "seconds": round(first.elapsed, 2), "results_per_s": round(first.rate, 1),
                            "parts": first.parts_written, "rows": first.rows}  # fmt: skip
            out["build_vs_scan"] = round(first.rate / out["scan_results_per_s"], 2)
            keys = [f"albums/{i % 100:02d}/{i:07d}.jpg{SUFFIX}" for i in range(args.results)]
            out["oss_get_ceiling_per_s"] = round(get_ceiling(oss, keys), 1)
            out["build_vs_get_ceiling"] = round(first.rate / out["oss_get_ceiling_per_s"], 2)
            one = build_one_worker_rate(oss, bucket, args.results)
            new = max(1, args.results // 100)
            upload(bucket, args.results, new)
            again = build(oss, bucket, args.workers)
            out["incremental_after_1_percent"] = {"new": new, "read": again.read, "seconds": round(again.elapsed, 2)}
            out["fc_projection"] = {
                "one_worker_results_per_s": round(one, 1), "instances": args.instances,
                "hours_for_100M": round(100_000_000 / (one * args.instances) / 3600, 2),
                "note": "one FC instance assumed as fast as one local worker process (same part writer, same OSS reads)",
            }  # fmt: skip
            out["backfill"] = backfill_first_invocation(oss, bucket, args.inventory_objects)
    out["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))
    return 0


def build_one_worker_rate(oss: LocalOss, bucket: oss2.Bucket, results: int) -> float:
    """One worker process over a fresh copy of the index (another prefix): the per-instance rate of the fan-out."""
    from ossfaces_tools.index.build import BuildOptions, build_index
    from ossfaces_tools.index.fanout import LocalPool

    access = BucketAccess(bucket.bucket_name, oss_endpoint=oss.endpoint, access_key_id=oss.access_key_id,
                          access_key_secret=oss.access_key_secret)  # fmt: skip
    sample = min(results, 5000)
    prefix = "albums/0"  # a tenth of the keys
    summary = build_index(
        bucket, prefix, SUFFIX, LocalPool(access, 1), BuildOptions(chunk=1000, checkpoint=Path("one.json"))
    )
    return summary.read / summary.elapsed if summary.elapsed else float(sample)


if __name__ == "__main__":
    sys.exit(main())
