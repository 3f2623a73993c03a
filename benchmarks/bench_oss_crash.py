"""kill -9 the local OSS during 50 concurrent uploads, restart it, and check every object is complete or absent.

Run: .venv/bin/python benchmarks/bench_oss_crash.py [--uploads 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import oss2
from bench_oss_common import bucket_for, free_port, start_server


def one_round(data: Path, uploads: int, size: int) -> tuple[int, int, int]:
    """Returns (complete, absent, torn)."""
    port = free_port()
    proc = start_server(data, port, "crash")
    bucket = bucket_for(port, "crash")
    bodies = {f"obj/{i:03d}": hashlib.sha256(f"{data}{i}".encode()).digest() * (size // 32) for i in range(uploads)}
    acknowledged: list[str] = []

    def chunks(body: bytes, delay: float) -> Iterator[bytes]:
        for i in range(0, len(body), 256 * 1024):
            time.sleep(delay)
            yield body[i : i + 256 * 1024]

    def put(key: str) -> None:
        try:
            bucket.put_object(key, chunks(bodies[key], 0.015 * (int(key[-3:]) % 10)))
            acknowledged.append(key)
        except Exception:
            pass

    with concurrent.futures.ThreadPoolExecutor(uploads) as pool:
        futures = [pool.submit(put, k) for k in bodies]
        deadline = time.time() + 10
        while len(acknowledged) < uploads // 5 and time.time() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        concurrent.futures.wait(futures)
    proc = start_server(data, port, "crash")
    complete = absent = torn = 0
    try:
        for key, body in bodies.items():
            try:
                got = bucket.get_object(key).read()
            except oss2.exceptions.NoSuchKey:
                absent += 1
                if key in acknowledged:
                    torn += 1
                    print(f"LOST acknowledged upload {key}")
                continue
            if got == body:
                complete += 1
            else:
                torn += 1
                print(f"TORN {key}: {len(got)} of {len(body)} bytes")
    finally:
        proc.terminate()
        proc.wait(10)
    return complete, absent, torn


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--uploads", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size-mb", type=int, default=2)
    args = p.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory() as tmpdir:
        for r in range(args.rounds):
            complete, absent, torn = one_round(Path(tmpdir) / f"round{r}", args.uploads, args.size_mb * 1024 * 1024)
            print(
                f"round {r + 1}: {args.uploads} uploads, kill -9, restart: {complete} complete, {absent} absent, {torn} torn/lost"
            )
            bad += torn
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
