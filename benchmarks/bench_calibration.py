"""Cost of the calibration step per face (``Calibration.face_fields``): the shipped file, the identity, and the shipped
file with a 128-d gender head added.

Run: ``.venv/bin/python benchmarks/bench_calibration.py``. Prints microseconds per face; asserts nothing. The step runs
once per face after the networks (milliseconds per face, ``benchmarks/bench_engine.py``), so this is the whole
latency the calibration adds. The head's coefficients here are random, for timing only, never shipped.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("function", "localstack", "tools")]

from ossfaces.vision.attributes import IMM_EMOTIONS  # noqa: E402
from ossfaces.vision.calibration import Calibration, load_calibration  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(81)).astype(np.float32)
    emotions = dict(zip(IMM_EMOTIONS, rng.dirichlet(np.ones(7)).tolist(), strict=True))
    embedding = rng.normal(size=128).astype(np.float32)
    embedding /= np.linalg.norm(embedding)
    shipped = load_calibration()
    doc = copy.deepcopy(dict(shipped.document))
    doc["gender"]["head"] = {
        "bias": 0.1,
        "net_logit": 0.8,
        "embedding": rng.normal(size=128).tolist(),
        "fallback": {"bias": 0.0, "net_logit": 1.0},
    }
    with_head = Calibration.from_document(doc)
    load = os.getloadavg()[0]
    print(f"# {sys.executable} {' '.join(sys.argv)}  [load {load:.2f}]")
    for name, cal in (
        ("identity", Calibration.identity()),
        (f"shipped calibration.json {shipped.digest}", shipped),
        ("shipped + 128-d gender head (timing only)", with_head),
    ):
        n = 20_000
        call = functools.partial(cal.face_fields, probs, "MALE", 0.93, emotions, embedding)
        best = min(timeit.repeat(call, number=n, repeat=3))
        print(f"{name:48s} {1e6 * best / n:7.1f} us per face")


if __name__ == "__main__":
    main()
