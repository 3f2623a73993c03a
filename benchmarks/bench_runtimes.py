"""Each network of the local engine under OpenCV 5's two DNN engines and under onnxruntime, in the same run.

Run: ``.venv/bin/python benchmarks/bench_runtimes.py [--runs 30]``. Prints figures; asserts nothing.

What it is for: deciding whether another inference runtime would buy the engine's latency goals (issue 12). The engine
runs everything in OpenCV (``cv2.dnn``, the new engine by default); onnxruntime is installed only for the benchmark's
peer (``requirements-peer.txt``), and is not a dependency of the function. Same inputs, same threads (2), median of
``--runs`` forward passes after two warm-up passes, random pixels (the networks' cost does not depend on them).
YuNet's file declares a fixed 640x640 input; for onnxruntime its height and width are made symbolic (``onnx``, as
``FaceDetectorYN`` does for OpenCV by padding to a multiple of 32).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools")]

from ossfaces.vision.models import verify_models  # noqa: E402

CASES = (
    ("detector", "YuNet, 640x448 (a 640-px photo)", (1, 3, 448, 640)),
    ("detector", "YuNet, 1920x1280 (a 24 MP photo's fine pass)", (1, 3, 1280, 1920)),
    ("embedding", "SFace, 1 face", (1, 3, 112, 112)),
    ("embedding", "SFace, 6 faces", (6, 3, 112, 112)),
    ("age", "age, 2 chips (1 face)", (2, 3, 64, 64)),
    ("age", "age, 12 chips (6 faces)", (12, 3, 64, 64)),
    ("gender", "gender, 6 faces", (6, 3, 32, 32)),
    ("emotion", "emotion, 6 faces", (6, 1, 64, 64)),
)


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def opencv(path: Path, engine: int, blob: NDArray[Any]) -> Callable[[], Any]:
    net = cv2.dnn.readNet(str(path), "", "", engine)
    names = net.getUnconnectedOutLayersNames()

    def run() -> Any:
        net.setInput(blob)
        return net.forward(names)

    return run


def onnxruntime_session(path: Path, role: str, blob: NDArray[Any], scratch: Path) -> Callable[[], Any] | str:
    """A session over ``path`` (YuNet with symbolic height and width), or why there is none."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        return "not installed (bash scripts/setup.sh --bench)"
    model = onnx.load(str(path))
    if role == "detector":
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for output in model.graph.output:
            output.type.tensor_type.shape.dim[1].dim_param = "anchors"
        del model.graph.value_info[:]
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[0].dim_param = "batch"
    target = scratch / f"{role}.onnx"
    onnx.save(model, str(target))
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = 2, 1, 3
    try:
        session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types; the reason is the figure
        return f"cannot load it: {str(exc).splitlines()[0][:100]}"
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: blob})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cv2.setNumThreads(2)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    paths = verify_models()
    rng = np.random.default_rng(0)
    scratch = ROOT / ".cache" / "bench-runtimes"
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"OpenCV {cv2.__version__}, 2 threads, median of {args.runs} runs (ms per forward pass)")
    print(f"  {'network, input':46s} {'cv2 new':>9s} {'cv2 classic':>12s} {'onnxruntime':>12s}")
    for role, name, shape in CASES:
        blob = (rng.random(shape, dtype=np.float32) * 255).astype(np.float32)
        figures = [
            f"{median_ms(opencv(paths[role], engine, blob), args.runs):9.2f}"
            for engine in (cv2.dnn.ENGINE_NEW, cv2.dnn.ENGINE_CLASSIC)
        ]
        session = onnxruntime_session(paths[role], role, blob, scratch)
        ort_figure = f"{median_ms(session, args.runs):12.2f}" if callable(session) else f"  {session}"
        print(f"  {name:46s} {figures[0]} {figures[1]:>12s} {ort_figure}")


if __name__ == "__main__":
    main()
