"""32 concurrent oss2 clients x 200 mixed operations against a local OSS subprocess.

Every object read back is checked against the bytes that were written (oss2 also verifies CRC-64 on each PUT and on
get_object_to_file); prints throughput and the error count, which must be 0.
Run: .venv/bin/python benchmarks/bench_oss_concurrency.py [--clients 32] [--ops 200]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import random
import tempfile
import time
from pathlib import Path

import oss2
from bench_oss_common import bucket_for, free_port, rss_mb, start_server


def client(worker: int, port: int, ops: int, tmp: Path) -> tuple[int, int, int]:
    """Returns (operations, bytes moved, errors)."""
    bucket = bucket_for(port, "bench")
    rng = random.Random(worker)
    mine: dict[str, bytes] = {}
    moved = errors = 0
    for i in range(ops):
        roll = rng.random()
        try:
            if roll < 0.4 or not mine:
                key = f"w{worker}/{rng.randrange(50)}/{i}.bin"
                body = rng.randbytes(rng.choice([0, 1, 1000, 64 * 1024, 512 * 1024]))
                bucket.put_object(key, body)  # oss2 compares the server's CRC-64 with its own
                mine[key] = body
                moved += len(body)
            elif roll < 0.7:
                key = rng.choice(list(mine))
                target = tmp / f"{worker}.out"
                bucket.get_object_to_file(key, str(target))  # CRC-64 and length checked by oss2
                data = target.read_bytes()
                if hashlib.sha256(data).digest() != hashlib.sha256(mine[key]).digest():
                    raise AssertionError(f"content mismatch for {key}")
                moved += len(data)
            elif roll < 0.8:
                key = rng.choice(list(mine))
                if bucket.head_object(key).content_length != len(mine[key]):
                    raise AssertionError("HEAD length mismatch")
            elif roll < 0.9:
                listed = {o.key for o in oss2.ObjectIteratorV2(bucket, prefix=f"w{worker}/")}
                if listed != set(mine):
                    raise AssertionError(f"listing mismatch: {len(listed)} vs {len(mine)}")
            else:
                key = rng.choice(list(mine))
                bucket.delete_object(key)
                del mine[key]
        except Exception as e:  # counted, printed, and the run fails
            errors += 1
            print(f"worker {worker} op {i}: {type(e).__name__}: {e}")
    # final verification of everything this worker still owns
    for key, body in mine.items():
        if bucket.get_object(key).read() != body:
            errors += 1
            print(f"worker {worker}: final check failed for {key}")
    return ops, moved, errors


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--ops", type=int, default=200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        proc = start_server(tmp / "data", port, "bench")
        try:
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(lambda w: client(w, port, args.ops, tmp), range(args.clients)))
            elapsed = time.perf_counter() - t0
            ops = sum(r[0] for r in results)
            moved = sum(r[1] for r in results)
            errors = sum(r[2] for r in results)
            rss, peak = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"clients={args.clients} ops/client={args.ops} total ops={ops} errors={errors}")
    print(f"elapsed={elapsed:.2f}s throughput={ops / elapsed:.0f} ops/s, {moved / elapsed / 2**20:.1f} MiB/s")
    print(f"server RSS={rss:.0f} MB peak={peak:.0f} MB")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
