"""100 MB put and get through oss2 against a local OSS subprocess; prints timings and the server's RSS.

The body is sent as an iterable (chunked transfer encoding) and read back with get_object_to_file, so neither side
needs the object in memory; the server's peak RSS shows whether it streamed.
Run: .venv/bin/python benchmarks/bench_oss_large.py [--mb 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench_oss_common import bucket_for, free_port, rss_mb, start_server


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=int, default=100)
    args = p.parse_args()
    block = os.urandom(1024 * 1024)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        proc = start_server(tmp / "data", port, "bench")
        try:
            bucket = bucket_for(port, "bench")
            bucket.put_object("warmup", b"x")
            idle_rss, _ = rss_mb(proc.pid)

            def body() -> Iterator[bytes]:
                for _ in range(args.mb):
                    yield block

            t0 = time.perf_counter()
            bucket.put_object("big.bin", body())  # oss2 checks CRC-64
            put_s = time.perf_counter() - t0
            _, peak_after_put = rss_mb(proc.pid)
            t0 = time.perf_counter()
            bucket.get_object_to_file("big.bin", str(tmp / "big.out"))  # oss2 checks CRC-64 and length
            get_s = time.perf_counter() - t0
            rss, peak = rss_mb(proc.pid)
            assert (tmp / "big.out").stat().st_size == args.mb * 1024 * 1024
        finally:
            proc.terminate()
            proc.wait(10)
    print(
        f"object={args.mb} MiB put={put_s:.2f}s ({args.mb / put_s:.0f} MiB/s) get={get_s:.2f}s ({args.mb / get_s:.0f} MiB/s)"
    )
    print(
        f"server RSS idle={idle_rss:.0f} MB, peak after put={peak_after_put:.0f} MB, peak after get={peak:.0f} MB, now={rss:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
