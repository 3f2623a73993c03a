"""Cost of the calibration step per face (``Calibration.face_fields``), shipped file and a fully fitted-shaped one.

Run: ``.venv/bin/python benchmarks/bench_calibration.py``. Prints microseconds per face; asserts nothing. The step runs
once per face after the networks (tens of milliseconds per face, ``benchmarks/bench_engine.py``), so this is the whole
latency the calibration adds. The "fitted-shaped" calibration has 64 age knots, per-band gender thresholds, an emotion
temperature and priors: numbers invented for timing only, never shipped.
"""

from __future__ import annotations

import functools
import os
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("function", "localstack", "tools")]

from ossfaces.vision.attributes import IMM_EMOTIONS  # noqa: E402
from ossfaces.vision.calibration import (  # noqa: E402
    AgeMap,
    Calibration,
    EmotionCalibration,
    GenderRule,
    load_calibration,
)


def main() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(81)).astype(np.float32)
    emotions = dict(zip(IMM_EMOTIONS, rng.dirichlet(np.ones(7)).tolist(), strict=True))
    xs = np.linspace(0.25, 80, 64)
    shaped = Calibration(
        AgeMap(tuple(xs.tolist()), tuple(np.sort(xs * 1.1 - 3).tolist())),
        GenderRule(13, ((13, 0.9), (20, 0.7), (40, 0.75), (60, 0.8))),
        EmotionCalibration(1.4, (0.1, -0.2, 0.8, -0.3, 0.4, 0.9, 0.2)),
    )
    load = os.getloadavg()[0]
    for name, cal in (("shipped calibration.json", load_calibration()), ("fitted-shaped (timing only)", shaped)):
        n = 20_000
        best = min(timeit.repeat(functools.partial(cal.face_fields, probs, "MALE", 0.93, emotions), number=n, repeat=3))
        print(f"{name:30s} {1e6 * best / n:7.1f} us per face  [load {load:.2f}]")


if __name__ == "__main__":
    main()
