"""kill -9 during uploads, restart, count what survived (the harness is ``crash_support``).

- default: the local OSS alone, 50 concurrent slow uploads; every object must be complete or absent, none torn, no
  acknowledged one lost.
- ``--stack``: the whole local stack (OSS, trigger, the real function with a stand-in detector) as one process;
  40 uploads from 8 threads, kill -9 at a different point each round; after the restart every stored photo must get
  its ``.faces.json``, and none a second one.

Run: .venv/bin/python benchmarks/bench_oss_crash.py [--uploads 50] [--rounds 3] [--stack]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("function", "localstack", "tools", "tests")]

from crash_support import kill9_oss_round, kill9_stack_round  # noqa: E402


def oss_rounds(rounds: int, uploads: int, size_mb: int, tmp: Path) -> int:
    bad = 0
    for r in range(rounds):
        o = kill9_oss_round(tmp / f"round{r}", uploads, size_mb * 1024 * 1024)
        print(f"round {r + 1}: {o.uploads} uploads ({o.acknowledged} acknowledged), kill -9, restart: "
              f"{o.complete} complete, {o.absent} absent, {len(o.torn)} torn, {len(o.lost)} acknowledged lost")  # fmt: skip
        bad += len(o.torn) + len(o.lost)
    return bad


def stack_rounds(rounds: int, uploads: int, tmp: Path) -> int:
    bad = 0
    totals = [0, 0, 0, 0]
    for r in range(rounds):
        kill_after = max(1, uploads * (r + 1) // (rounds + 1))  # early, middle, late
        o = kill9_stack_round(tmp / f"round{r}", uploads, kill_after=kill_after, settle_s=30)
        missing = o.acknowledged_without_result
        print(f"round {r + 1}: {uploads} uploads, kill -9 after {kill_after} acknowledged "
              f"({len(o.acknowledged)} acknowledged, {len(o.stored)} stored), restart: "
              f"{len(missing)} acknowledged without result, {len(o.without_result)} stored without result, "
              f"{len(o.written_twice)} with a second result write, "
              f"{sum(n - 1 for n in o.analyses.values() if n > 1)} analyses repeated (cut short by the kill)")  # fmt: skip
        for i, n in enumerate((len(o.acknowledged), len(missing), len(o.without_result), len(o.written_twice))):
            totals[i] += n
        bad += len(o.without_result) + len(o.written_twice)
    print(f"total: {totals[0]} acknowledged, {totals[1]} acknowledged without result, "
          f"{totals[2]} stored without result, {totals[3]} written twice")  # fmt: skip
    return bad


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--uploads", type=int, default=None, help="default 50 (OSS alone) or 40 (--stack)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size-mb", type=int, default=2, help="OSS alone: size of each upload")
    p.add_argument("--stack", action="store_true", help="kill the whole local stack, count photos without result")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        if args.stack:
            bad = stack_rounds(args.rounds, args.uploads or 40, Path(tmpdir))
        else:
            bad = oss_rounds(args.rounds, args.uploads or 50, args.size_mb, Path(tmpdir))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
