"""Benchmark: ``ossfaces backfill`` through fc2 on the local stack, 1,000 photos at a time.

The stack is the real one (local OSS, FC's invoke API, the function in-process with engine ``imm``, whose
``imm/detectface`` the local OSS answers with the local face engine). Photos are tiny generated JPEGs (96×96 noise, so
the detector runs for real and quickly), uploaded with the triggers off so they are "already in the bucket".
``ossfaces backfill`` runs as a separate process (`python -m ossfaces_tools.commands`, what the console script runs). Phases:

1. 1,000 photos → 1,000 async invocations → 1,000 results (dispatch and end-to-end throughput printed);
2. the same again → 0 invocations;
3. another 1,000, the backfill SIGTERMed after ~500 invocations, then resumed → every photo sent exactly once;
4. the same with SIGKILL (no chance to save): sends that were in flight may be repeated; printed, not hidden.

    .venv/bin/python benchmarks/bench_backfill.py [--photos 1000] [--rate 0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import oss2
from PIL import Image

from ossfaces.events import parse_event
from ossfaces_localstack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]


def tiny_jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (96, 96, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    return out.getvalue()


class Bench:
    def __init__(self, stack: LocalStack, workers: int, rate: float) -> None:
        self.stack = stack
        oss = stack.oss
        self.bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket,
                                  session=oss2.Session(pool_size=32))  # fmt: skip
        self.workers = workers
        self.rate = rate
        self.env = {**os.environ, "ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id,
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret}  # fmt: skip

    def upload(self, prefix: str, n: int) -> list[str]:
        keys = [f"{prefix}{i:05d}.jpg" for i in range(n)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda ik: self.bucket.put_object(ik[1], tiny_jpeg(ik[0])), enumerate(keys)))
        return keys

    def command(self, prefix: str, checkpoint: Path) -> list[str]:
        spec = self.stack.function()
        assert self.stack.api is not None
        command = [sys.executable, "-m", "ossfaces_tools.commands", "backfill", self.stack.bucket, "--prefix", prefix,
                   "--region", self.stack.oss.region, "--oss-endpoint", self.stack.oss.endpoint,
                   "--fc-endpoint", self.stack.api.endpoint, "--service", spec.service or spec.name,
                   "--function", spec.name, "--checkpoint", str(checkpoint), "--workers", str(self.workers),
                   "--no-progress", "--json"]  # fmt: skip
        return command + (["--rate", str(self.rate)] if self.rate else [])

    def run(self, prefix: str, checkpoint: Path) -> dict[str, object]:
        done = subprocess.run(
            self.command(prefix, checkpoint), env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"backfill exited {done.returncode}: {done.stderr[-2000:]}")
        summary: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return summary

    def sent(self, prefix: str) -> Counter[str]:
        return Counter(r.key for inv in self.stack.invocations() if inv.source == "api:async"
                       for r in parse_event(inv.event) if r.key.startswith(prefix))  # fmt: skip

    def results(self, prefix: str) -> int:
        return sum(
            1 for o in oss2.ObjectIteratorV2(self.bucket, prefix=prefix, max_keys=1000) if o.key.endswith(".faces.json")
        )

    def interrupted(
        self, prefix: str, keys: list[str], sig: signal.Signals, checkpoint: Path
    ) -> tuple[int, Counter[str]]:
        process = subprocess.Popen(self.command(prefix, checkpoint), env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)  # fmt: skip
        while sum(self.sent(prefix).values()) < len(keys) // 2 and process.poll() is None:
            time.sleep(0.01)
        process.send_signal(sig)
        process.communicate(timeout=120)
        before = sum(self.sent(prefix).values())
        self.run(prefix, checkpoint)
        return before, self.sent(prefix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8, help="backfill --workers (concurrent invocations)")
    parser.add_argument("--rate", type=float, default=0, help="backfill --rate (0: unlimited)")
    parser.add_argument("--function-workers", type=int, default=8, help="local FC instances running the function")
    args = parser.parse_args()
    n = args.photos
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as scratch:
        stack = LocalStack(Path(scratch) / "stack", project_dir=ROOT, fsync=False, workers=args.function_workers)
        with stack:
            stack.triggers = []  # the photos are "already there": no trigger fires for them
            bench = Bench(stack, args.workers, args.rate)
            print(f"{os.cpu_count()} CPUs; function engine imm → local OSS imm/detectface (local face engine)")

            keys = bench.upload("bench/", n)
            started = time.perf_counter()
            first = bench.run("bench/", Path(scratch) / "ck1.json")
            dispatched_in = time.perf_counter() - started
            stack.wait_idle(3600)
            total = time.perf_counter() - started
            sent = bench.sent("bench/")
            print(f"1. {first['dispatched']} photos dispatched as {first['invocations']} async invocations in "
                  f"{dispatched_in:.1f} s ({n / dispatched_in:.0f} invocations/s incl. process start); "
                  f"all {bench.results('bench/')} results written after {total:.1f} s ({n / total:.0f} photos/s end to end)")  # fmt: skip
            if bench.results("bench/") != n or sorted(sent) != keys or max(sent.values()) != 1:
                failures.append("phase 1: not exactly one invocation and one result per photo")

            second = bench.run("bench/", Path(scratch) / "ck2.json")
            print(f"2. second run: {second['up_to_date']} up to date, {second['invocations']} invocations, "
                  f"{second['elapsed']} s")  # fmt: skip
            if second["invocations"] != 0:
                failures.append("phase 2: the second run invoked the function")

            for number, sig, prefix in ((3, signal.SIGTERM, "term/"), (4, signal.SIGKILL, "kill/")):
                keys = bench.upload(prefix, n)
                before, sent = bench.interrupted(prefix, keys, sig, Path(scratch) / f"ck{number}.json")
                stack.wait_idle(3600)
                duplicates = sum(v - 1 for v in sent.values())
                missing = len(set(keys) - set(sent))
                print(f"{number}. {sig.name} after {before} invocations, resumed: {sum(sent.values())} invocations for "
                      f"{len(keys)} photos, duplicates {duplicates}, missing {missing}, results {bench.results(prefix)}")  # fmt: skip
                if missing or bench.results(prefix) != n or (sig == signal.SIGTERM and duplicates):
                    failures.append(f"phase {number}: duplicates or misses")
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
