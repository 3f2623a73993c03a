"""Does a change alter what the local engine writes? This checkout's engine against another checkout's, photo by photo.

Run: ``.venv/bin/python scripts/compare_engines.py OTHER_CHECKOUT`` (e.g. ``git worktree add /tmp/base <commit>``,
with the model files linked or fetched there). Each engine runs in its own process over the same photos: the
benchmark's generated ones and the pinned real test photos. Prints, per photo, ``same`` or the first field that
differs; what decides whether ``ENGINE_REVISION`` must be bumped (results of the old revision become stale and a
backfill redoes them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "function"))

CHILD = """
import json, sys
sys.path[:0] = [{function!r}, {tests!r}, {benchmarks!r}]
from ossfaces.vision import FaceAnalyzer  # first: bench_engine puts this checkout's function/ on sys.path
assert FaceAnalyzer.__module__ in sys.modules and sys.modules["ossfaces"].__file__.startswith({function!r})
from bench_engine import photos
from vision.photos import fetch_photos
analyzer = FaceAnalyzer.load(threads=2)
items = dict(photos()) | {{name: path.read_bytes() for name, path in fetch_photos().items()}}
print(json.dumps({{name: analyzer.analyze(data).faces for name, data in items.items()}}))
"""


def faces_of(checkout: Path) -> dict[str, list[dict[str, object]]]:
    code = CHILD.format(
        function=str(checkout / "function"), tests=str(ROOT / "tests"), benchmarks=str(ROOT / "benchmarks")
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=checkout)
    result: dict[str, list[dict[str, object]]] = json.loads(done.stdout)
    return result


def first_difference(a: object, b: object, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def _box_iou(a: dict[str, int], b: dict[str, int]) -> float:
    ix = max(0, min(a["Left"] + a["Width"], b["Left"] + b["Width"]) - max(a["Left"], b["Left"]))
    iy = max(0, min(a["Top"] + a["Height"], b["Top"] + b["Height"]) - max(a["Top"], b["Top"]))
    return ix * iy / (a["Width"] * a["Height"] + b["Width"] * b["Height"] - ix * iy)


def how_far(theirs: list[Any], ours: list[Any]) -> str:
    """By how much two face lists differ, face by face in order: what a change of runtime moves."""
    if len(theirs) != len(ours):
        return f"faces {len(theirs)} vs {len(ours)}"
    from ossfaces.embedding import decode_vector

    ious, ages, sds, cosines, flips = [1.0], [0.0], [0.0], [1.0], 0
    for a, b in zip(theirs, ours, strict=True):
        ious.append(_box_iou(a["FaceAttributes"]["FaceBoundary"], b["FaceAttributes"]["FaceBoundary"]))
        ages.append(abs(a.get("Age", 0) - b.get("Age", 0)))
        sds.append(abs(a.get("AgeSD", 0.0) - b.get("AgeSD", 0.0)))
        flips += (a.get("Gender"), a.get("Emotion")) != (b.get("Gender"), b.get("Emotion"))
        if "Embedding" in a and "Embedding" in b:
            cosines.append(float(decode_vector(a["Embedding"]["Data"]) @ decode_vector(b["Embedding"]["Data"])))
        elif ("Embedding" in a) != ("Embedding" in b):
            flips += 1
    return (
        f"box IoU >= {min(ious):.3f}, |Age| <= {max(ages)}, |AgeSD| <= {max(sds):.2f}, "
        f"gender/emotion/embedding presence changed on {flips}, embedding cosine >= {min(cosines):.5f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="another checkout of this repository")
    args = parser.parse_args()
    ours, theirs = faces_of(ROOT), faces_of(args.other.resolve())
    same = 0
    for name in ours:
        difference = first_difference(theirs.get(name), ours[name])
        same += difference is None
        print(f"{name:28s} {'same' if difference is None else 'differs at ' + difference[:60]}")
        if difference is not None:
            print(f"{'':28s} {how_far(theirs.get(name, []), ours[name])}")
    print(f"{same} of {len(ours)} photos: every field the engine writes is the same (this checkout vs {args.other})")


if __name__ == "__main__":
    main()
