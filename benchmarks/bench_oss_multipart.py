"""CompleteMultipartUpload of a large object through oss2 against a local OSS subprocess; prints its time.

Uploads --parts parts of --mb / --parts MiB each, then times complete_multipart_upload alone (the server joins the
parts into one blob and gives the object its CRC-64) and checks the object's CRC-64 against oss2's own over the bytes.
Run: .venv/bin/python benchmarks/bench_oss_multipart.py [--mb 100] [--parts 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import oss2
from bench_oss_common import bucket_for, free_port, start_server
from oss2.utils import Crc64


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=int, default=100)
    p.add_argument("--parts", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    part_size = args.mb * 1024 * 1024 // args.parts
    parts = [os.urandom(part_size) for _ in range(args.parts)]
    expected = Crc64()
    for data in parts:
        expected.update(data)
    times = []
    with tempfile.TemporaryDirectory() as tmpdir:
        port = free_port()
        proc = start_server(Path(tmpdir) / "data", port, "bench")
        try:
            bucket = bucket_for(port, "bench")
            for attempt in range(args.repeat):
                key = f"big-{attempt}.bin"
                upload_id = bucket.init_multipart_upload(key).upload_id
                done = [
                    oss2.models.PartInfo(n, bucket.upload_part(key, upload_id, n, data).etag)
                    for n, data in enumerate(parts, 1)
                ]
                t0 = time.perf_counter()
                bucket.complete_multipart_upload(key, upload_id, done)
                times.append(time.perf_counter() - t0)
                server_crc = int(bucket.head_object(key).server_crc)
                assert server_crc == expected.crc, (server_crc, expected.crc)
                bucket.delete_object(key)
        finally:
            proc.terminate()
            proc.wait(10)
    print(
        f"object={args.mb} MiB in {args.parts} parts: CompleteMultipartUpload median={statistics.median(times):.3f}s "
        f"(runs: {', '.join(f'{t:.3f}' for t in times)}), CRC-64 = oss2's"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
