"""Peak memory of the local engine on the worst files it accepts, one per format, each in a fresh process; and four
of them analysed at once in one process, as ``ossfaces up`` runs them.

Run: ``.venv/bin/python benchmarks/bench_decode_memory.py [--only NAME ...] [--skip-concurrent]``. Prints figures;
asserts nothing (``tests/vision/test_decode_formats.py`` holds the 400 MiB limit). The files come from
``tests/vision/worst_cases.py``: streamed 100- and 36-megapixel PNGs and a float TIFF, and every other format at the
largest side the decoder's memory model (``ossfaces.vision.decode.decode_bytes``) accepts. Per file: the engine's
RSS after loading (base), the peak (VmHWM) after analysing, and the model's estimate (``analysis_bytes``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "tests")]

from vision.worst_cases import at_budget, write_all  # noqa: E402

ONE = """
import sys
sys.path.insert(0, sys.argv[1])
from ossfaces.vision import FaceAnalyzer, ImageError
try:
    from ossfaces.vision.decode import analysis_bytes
except ImportError:  # an engine from before the memory model (--function)
    analysis_bytes = lambda data: -(2**20)
def hwm():
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) // 1024
analyzer = FaceAnalyzer.load(threads=2)
base = hwm()
data = open(sys.argv[2], "rb").read()
estimate = analysis_bytes(data) >> 20
try:
    result = analyzer.analyze(data)
    outcome = f"ok:{result.image.width}x{result.image.height}"
except ImageError as exc:
    outcome = exc.code
print(outcome, base, hwm(), estimate)
"""

MANY = """
import sys
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, sys.argv[1])
from ossfaces.vision import FaceAnalyzer
def hwm():
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) // 1024
analyzer = FaceAnalyzer.load(threads=2)
base = hwm()
files = [open(path, "rb").read() for path in sys.argv[2:]]
with ThreadPoolExecutor(len(files)) as pool:
    list(pool.map(analyzer.analyze, files))
try:
    from ossfaces.vision.budget import ANALYSIS_MEMORY
    held, capacity = ANALYSIS_MEMORY.peak >> 20, ANALYSIS_MEMORY.capacity >> 20
except ImportError:  # an engine from before the budget (--function)
    held = capacity = "-"
print(base, hwm(), held, capacity)
"""


def load() -> str:
    return f"[load {os.getloadavg()[0]:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=[], help="cases whose name contains one of these")
    parser.add_argument("--skip-concurrent", action="store_true")
    parser.add_argument("--function", type=Path, default=ROOT / "function",
                        help="the engine to measure: another checkout's function/ (e.g. a git worktree of an older "
                        "commit) for before/after figures")  # fmt: skip
    args = parser.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        files: dict[str, Path] = {}
        for side in (10_000, 6_000):
            (directory / str(side)).mkdir()
            files |= {f"{name} {side}x{side}": p for name, p in write_all(directory / str(side), side).items()}
        files |= at_budget(directory)
        files = {n: p for n, p in files.items() if not args.only or any(o in n for o in args.only)}
        print(f"{'file':42s} {'KB':>8s} {'outcome':24s} {'base':>5s} {'peak':>5s} {'model':>5s}  MiB")
        peaks = {}
        for name, path in files.items():
            run = [sys.executable, "-c", ONE, str(args.function), str(path)]
            done = subprocess.run(run, capture_output=True, text=True)
            if done.returncode:
                print(f"{name:42s} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            outcome, base, peak, model = done.stdout.split()
            peaks[name] = int(peak)
            kb = path.stat().st_size // 1024
            print(f"{name:42s} {kb:8d} {outcome:24s} {base:>5s} {peak:>5s} {model:>5s}  {load()}", flush=True)
        accepted = max(peaks.values()) if peaks else 0
        print(f"highest peak: {accepted} MiB (limit 400)")
        if args.skip_concurrent:
            return
        four = [files[n] for n in files if any(k in n for k in ("webp 5", "avif 4:4:4", "heic", "rgb png 6000"))][:4]
        run = [sys.executable, "-c", MANY, str(args.function), *map(str, four)]
        base, peak, held, capacity = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
        names = ", ".join(p.name for p in four)
        print(f"four at once in one process ({names}): base {base}, peak {peak} MiB; the budget held at most "
              f"{held} of {capacity} MiB  {load()}")  # fmt: skip


if __name__ == "__main__":
    main()
