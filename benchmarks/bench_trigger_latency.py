"""Upload-to-result latency through the local stack's trigger: oss2 PUT → trigger → FC event → handler → imm/detectface
(local engine) → ``<key>.faces.json`` written. p50 / p95 / max over N uploads.

Run: ``.venv/bin/python benchmarks/bench_trigger_latency.py [--count 100] [--mode inprocess|bootstrap] [--engine imm|local]
[--burst]``. Prints figures; asserts nothing but that every result exists.

``--startup-race [--rounds N]``: instead, start the stack as a fresh process and upload from the first instant its
port accepts, for 0.3 s; print how many of those acknowledged uploads never got a result.

Two regimes: one upload at a time (default: each result is awaited before the next upload, so the figure is the
pipeline's own latency), or ``--burst`` (all uploads back to back, so queueing behind the worker pool counts too).
The latency ends when the invocation that wrote the result returned, read from the stack's invocation records, so no
polling interval is added to it. The first upload (models load, connections open) is reported apart as the cold start.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools"), str(ROOT / "tests")]

import oss2  # noqa: E402

from ossfaces.events import parse_event  # noqa: E402
from ossfaces_localstack.fc.invoker import Invocation  # noqa: E402
from ossfaces_localstack.stack import LocalStack  # noqa: E402


def photo() -> bytes:
    """scikit-image's astronaut (512×512, one face) as a JPEG, the size of a small phone thumbnail."""
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def key_of(invocation: Invocation) -> str:
    """The photo an invocation was for, whatever the trigger's event shape (native or EventBridge CloudEvent)."""
    return parse_event(invocation.event)[0].key


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def startup_race(rounds: int, window_s: float = 0.3) -> None:
    from crash_support import startup_race_round

    total = lost = 0
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(rounds):
            outcome = startup_race_round(Path(scratch) / f"round{r}", window_s)
            total += len(outcome.acknowledged)
            lost += len(outcome.without_result)
            print(f"round {r + 1}: {len(outcome.acknowledged)} uploads acknowledged in the first {window_s} s after the "
                  f"port accepted one, {len(outcome.without_result)} without result")  # fmt: skip
    print(f"total: {lost} of {total} acknowledged uploads without result")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--mode", choices=["inprocess", "bootstrap"], default="inprocess")
    parser.add_argument("--engine", choices=["imm", "local"], default="imm")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--burst", action="store_true", help="Upload everything back to back instead of one at a time.")
    parser.add_argument("--startup-race", action="store_true", help="Uploads in the first 0.3 s of a fresh stack.")
    parser.add_argument("--rounds", type=int, default=3, help="With --startup-race.")
    args = parser.parse_args()
    if args.startup_race:
        startup_race(args.rounds)
        return

    body = photo()
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "project"  # no template.yml: the default trigger per image suffix
        empty.mkdir()
        stack = LocalStack(Path(scratch) / "data", project_dir=empty, mode=args.mode, engine=args.engine,
                           workers=args.workers, fc_port=None)  # fmt: skip
        with stack:
            bucket = oss2.Bucket(oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret),
                                 stack.oss.endpoint, stack.bucket)  # fmt: skip
            uploaded: dict[str, float] = {}
            put_ms: list[float] = []
            started = time.monotonic()
            for n in range(args.count + 1):  # +1: the cold start, reported apart
                key = f"bench/{n:04d}.jpg"
                uploaded[key] = time.monotonic()
                bucket.put_object(key, body)
                put_ms.append((time.monotonic() - uploaded[key]) * 1000)
                if not args.burst or n == 0:
                    stack.wait_idle(120)
            if not stack.wait_idle(600):
                raise SystemExit("the stack did not drain within 600 s")
            wall = time.monotonic() - started
            records = {key_of(i): i for i in stack.invocations()}
            missing = [k for k in uploaded if not bucket.object_exists(k + ".faces.json")]
            if missing:
                raise SystemExit(f"{len(missing)} results missing, e.g. {missing[0]}")

    def latency(key: str) -> float:
        record = records[key]
        assert record.finished_at is not None and record.outcome == "succeeded", record
        return (record.finished_at - uploaded[key]) * 1000

    keys = list(uploaded)
    cold, warm = latency(keys[0]), [latency(k) for k in keys[1:]]
    handler = [records[k].duration_ms for k in keys[1:]]
    regime = "burst" if args.burst else "one at a time"
    print(f"trigger latency, {args.count} uploads ({regime}), mode {args.mode}, engine {args.engine}, "
          f"{args.workers} workers, photo {len(body) // 1024} KiB")  # fmt: skip
    print(f"  upload → result   p50 {statistics.median(warm):7.1f} ms   p95 {percentile(warm, 0.95):7.1f} ms"
          f"   max {max(warm):7.1f} ms")  # fmt: skip
    print(f"  handler alone     p50 {statistics.median(handler):7.1f} ms   p95 {percentile(handler, 0.95):7.1f} ms")
    print(
        f"  PUT response      p50 {statistics.median(put_ms[1:]):7.1f} ms   p95 {percentile(put_ms[1:], 0.95):7.1f} ms"
    )
    print(f"  cold start (first upload → result) {cold:.0f} ms; wall {wall:.1f} s, {args.count / wall:.1f} photos/s")


if __name__ == "__main__":
    main()
