"""Latency, memory and cold start of the local face engine, against a naive peer measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--threads 2] [--runs 20]``. Prints figures; asserts nothing.

Peer: the naive pipeline with the same models: full-resolution decode (no DCT reduction), YuNet once on the whole
full-size image, same attribute networks. It isolates what the engine's decoding and two-scale detection buy; there
is no other face engine installable here that could run the same attributes (see research notes on dlib/mediapipe).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "function"))

from ossfaces.vision import FaceAnalyzer  # noqa: E402
from ossfaces.vision.decode import decode  # noqa: E402


def jpeg(arr: NDArray[Any], quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def photos() -> dict[str, bytes]:
    import skimage.data

    face = np.asarray(skimage.data.astronaut())
    one = cv2.resize(face, (640, 640), interpolation=cv2.INTER_CUBIC)
    crop = face[20:220, 130:310]  # the head and some background
    tile = cv2.resize(crop, (128, 142), interpolation=cv2.INTER_AREA)
    five = np.full((427, 640, 3), 90, np.uint8)
    for i in range(5):
        x, y = 10 + i * 125, 60 + (i % 2) * 160
        five[y : y + 142, x : x + 124] = tile[:, :124]
    one_small = five.copy()
    one_small[:, 135:] = 90
    big = cv2.resize(face, (6000, 4000), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    big = np.clip(big.astype(np.int16) + rng.integers(-6, 6, big.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    return {
        "640px, 1 face": jpeg(one),
        "640px, 1 small face": jpeg(one_small),
        "640px, 5 faces": jpeg(five),
        "24 MP JPEG": jpeg(big, 88),
    }


def median_ms(fn: Any, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def naive(analyzer: FaceAnalyzer, data: bytes) -> int:
    """The peer: full decode, full-size YuNet, same attributes."""
    decoded = decode(data, work_side=10**6)
    dets = analyzer._detector._pass(decoded.bgr, max(decoded.bgr.shape[:2]))
    gray = cv2.cvtColor(decoded.bgr, cv2.COLOR_BGR2GRAY)
    return len(analyzer._attributes.run(decoded.bgr, gray, dets, float(max(decoded.bgr.shape[:2]))))


SUBPROCESS = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {function!r})
import cv2
from ossfaces.vision import FaceAnalyzer
a = FaceAnalyzer.load(threads={threads})
t1 = time.perf_counter()
data = open({path!r}, "rb").read() if {path!r} else b""
t2 = time.perf_counter()
faces = len(a.analyze(data).faces) if data else 0
t3 = time.perf_counter()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(t1 - t0, t3 - t2, hwm, faces)
"""


def fresh(threads: int, path: str = "") -> tuple[float, float, float, int]:
    code = SUBPROCESS.format(function=str(ROOT / "function"), threads=threads, path=path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]) / 1024, int(out[3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    analyzer = FaceAnalyzer.load(threads=args.threads)
    data = photos()
    print(f"engine {analyzer.version}, OpenCV {cv2.__version__}, {args.threads} threads, median of {args.runs} runs")
    results: dict[str, float] = {}
    for name, blob in data.items():
        runs = args.runs if "24" not in name else max(3, args.runs // 4)
        faces = len(analyzer.analyze(blob).faces)
        ours = median_ms(lambda blob=blob: analyzer.analyze(blob), runs)
        peer = median_ms(lambda blob=blob: naive(analyzer, blob), runs)
        results[name] = ours
        print(
            f"{name:22s} faces={faces}  engine {ours:7.1f} ms   naive peer {peer:7.1f} ms   ratio {peer / ours:4.2f}x"
        )
    extra = (results["640px, 5 faces"] - results["640px, 1 small face"]) / 4
    print(f"per extra face (5-face minus 1-face photo, /4): {extra:.1f} ms")
    big_path = Path("/tmp/ossfaces-bench-24mp.jpg")
    big_path.write_bytes(data["24 MP JPEG"])
    cold = [fresh(args.threads) for _ in range(3)]
    print(
        f"cold start (fresh process: import + verify + load + warm-up): {statistics.median(c[0] for c in cold):.2f} s"
    )
    load_s, first_s, hwm_mib, faces = fresh(args.threads, str(big_path))
    print(
        f"24 MP JPEG in a fresh process: first analyze {first_s * 1000:.0f} ms, faces={faces}, "
        f"peak RSS {hwm_mib:.0f} MiB (VmHWM, includes import and models)"
    )


if __name__ == "__main__":
    main()
