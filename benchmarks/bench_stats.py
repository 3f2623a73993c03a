"""Benchmark: ``ossfaces stats`` over 100,000 ``.faces.json`` documents in the local OSS; peak RSS must stay ≤ 300 MB.

The documents are real ``FacesDocument`` JSON (0-4 faces each, ~3 % error documents), PUT through the local OSS server by
oss2 on 32 threads (the honest path: the server writes them, with its metadata, as for any upload). ``ossfaces stats`` then
runs as a separate process (`python -m ossfaces_tools.commands`) so its peak RSS is its own: its VmHWM, polled (see ``peak_rss_mb``).

    .venv/bin/python benchmarks/bench_stats.py [--documents 100000] [--keep DIR]
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

import oss2

from ossfaces.document import EMOTIONS, EngineInfo, ErrorInfo, Face, FacesDocument, SourceInfo
from ossfaces_localstack.oss import LocalOss

BUCKET = "bench-stats"
RSS_LIMIT_MB = 300


def make_document(i: int, rng: random.Random) -> tuple[str, bytes]:
    key = f"albums/{i % 50:02d}/{i:06d}.jpg"
    engine = EngineInfo(Name="imm", Version="imm/detectface@v1")
    source = SourceInfo(Bucket=BUCKET, Key=key, ETag=f"{i:032X}", Size=50_000 + i)
    if rng.random() < 0.03:
        code = rng.choice(["InvalidImage.Corrupt", "InvalidImage.TooLarge", "InvalidImage.Unsupported"])
        doc = FacesDocument(Source=source, Engine=engine, Error=ErrorInfo(Code=code, Message="synthetic"))
    else:
        faces = [
            Face(FaceId=f"{i}-{n}", FaceConfidence=0.99, Age=min(95, int(rng.gauss(33, 16)) % 96),
                 Gender=rng.choice(["MALE", "FEMALE"]), GenderConfidence=0.9, Emotion=rng.choice(EMOTIONS),
                 FaceAttributes={"FaceBoundary": {"Left": 10 * n, "Top": 20, "Width": 64, "Height": 80},
                                 "HeadPose": {"Pitch": 1.0, "Roll": -2.0, "Yaw": 3.5}})
            for n in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 4]))
        ]  # fmt: skip
        doc = FacesDocument(Source=source, Engine=engine, Faces=faces)
    return key + ".faces.json", doc.to_json()


def peak_rss_mb(process: subprocess.Popen[bytes]) -> float:
    """The child's own high-water RSS (``VmHWM`` of its address space since exec), polled until it exits.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark across fork and exec into the child's rusage, and
    this parent holds the local OSS and the 100,000 uploads.
    """
    peak_kb = 0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            break
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak_kb = max(peak_kb, int(line.split()[1]))
        time.sleep(0.05)
    process.wait()
    return peak_kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=64, help="stats --workers (concurrent GETs)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the local OSS data here (reused if present)")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="bench-stats-") if args.keep is None else None
    data_dir = args.keep or Path(scratch.name)  # type: ignore[union-attr]
    with LocalOss(data_dir, buckets=[BUCKET], fsync=False) as server:
        bucket = oss2.Bucket(oss2.Auth(server.access_key_id, server.access_key_secret), server.endpoint, BUCKET,
                             session=oss2.Session(pool_size=64))  # fmt: skip
        present = sum(1 for _ in oss2.ObjectIteratorV2(bucket, max_keys=1000))
        started = time.perf_counter()
        if present < args.documents:
            rng = random.Random(7)
            documents = (make_document(i, rng) for i in range(args.documents))
            with ThreadPoolExecutor(32) as pool:
                for _ in pool.map(lambda kv: bucket.put_object(kv[0], kv[1], headers={"Content-Type": "application/json"}),
                                  documents):  # fmt: skip
                    pass
            print(f"uploaded {args.documents} documents through oss2 in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "ALIBABA_CLOUD_ACCESS_KEY_ID": server.access_key_id,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": server.access_key_secret}  # fmt: skip
        out = Path(tempfile.mkdtemp(prefix="bench-stats-out-"))
        command = [sys.executable, "-m", "ossfaces_tools.commands", "stats", BUCKET, "--oss-endpoint", server.endpoint,
                   "--region", server.region, "--no-progress", "--json", "--workers", str(args.workers),
                   "--group-by-folder", "2", "--html", str(out / "report.html"), "--png", str(out / "report.png"),
                   "--csv", str(out / "report.csv")]  # fmt: skip
        started = time.perf_counter()
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
            peak_mb = peak_rss_mb(process)
            elapsed = time.perf_counter() - started
            stdout.seek(0)
            stderr.seek(0)
            output, errors = stdout.read().decode(), stderr.read().decode()
    if process.returncode != 0:
        print(errors, file=sys.stderr)
        return 1
    overall = json.loads(output)["overall"]
    print(f"stats over {overall['documents'] + overall['unreadable']} documents: {elapsed:.1f} s "
          f"({(overall['documents']) / elapsed:.0f} documents/s), peak RSS {peak_mb:.0f} MB (limit {RSS_LIMIT_MB} MB)")  # fmt: skip
    print(f"  photos {overall['images']}, with faces {overall['images_with_faces']}, faces {overall['faces']}, "
          f"genders {overall['genders']}, error documents {overall['error_documents']}")  # fmt: skip
    print(f"  outputs in {out}")
    ok = overall["documents"] == args.documents and peak_mb <= RSS_LIMIT_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
