"""Accuracy and stability figures of the local face engine over a real photo and its generated variants.

Run: ``.venv/bin/python benchmarks/eval_engine.py``. Prints one line per variant and a summary; asserts nothing.
The photo is ``skimage.data.astronaut()`` (one adult woman, smiling, frontal): stability, not population accuracy,
is what this can measure. Published accuracy of the underlying models is in the project's research notes.
"""

from __future__ import annotations

import io
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "tests")]

from vision.conftest import iou  # noqa: E402
from vision.variants import group_photo, variants  # noqa: E402

from ossfaces.vision import FaceAnalyzer  # noqa: E402


def main() -> None:
    import skimage.data

    photo = np.asarray(skimage.data.astronaut())
    analyzer = FaceAnalyzer.load(threads=2)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=92)
    base = analyzer.analyze(buf.getvalue())
    ref = base.faces[0]
    box = ref["FaceAttributes"]["FaceBoundary"]
    print(
        f"engine {analyzer.version}; reference: age {ref['Age']}, {ref['Gender']} ({ref['GenderConfidence']}), "
        f"{ref['Emotion']} ({ref['EmotionConfidence']}), box {box}"
    )
    found, ious, ages, genders, emotions, cosines = 0, [], [], [], [], []
    cases = variants(photo, box)
    for name, (data, expected) in cases.items():
        result = analyzer.analyze(data)
        if not result.faces:
            print(f"{name:14s} NOT FOUND")
            continue
        face = max(result.faces, key=lambda f: iou(f["FaceAttributes"]["FaceBoundary"], expected))
        i = result.faces.index(face)
        found += 1
        ious.append(iou(face["FaceAttributes"]["FaceBoundary"], expected))
        ages.append(face["Age"] - ref["Age"])
        genders.append(face["Gender"] == ref["Gender"])
        emotions.append(face["Emotion"] == ref["Emotion"])
        cosines.append(float(np.dot(result.embeddings[i], base.embeddings[0])))
        pose = face["FaceAttributes"].get("HeadPose", {})
        print(
            f"{name:14s} faces={len(result.faces)} IoU={ious[-1]:.3f} age={face['Age']:3d} {face['Gender']:6s} "
            f"{face['Emotion']:9s} cos={cosines[-1]:.3f} yaw={pose.get('Yaw')} pitch={pose.get('Pitch')} "
            f"quality={face['FaceQuality']}"
        )
    print(
        f"\nvariants: {len(cases)}; face found in {found}; IoU min {min(ious):.3f} median {statistics.median(ious):.3f}"
    )
    print(
        f"age minus reference: min {min(ages)}, max {max(ages)}, mean |d| {statistics.mean(abs(a) for a in ages):.1f};"
        f" within 5 years: {sum(abs(a) <= 5 for a in ages)}/{len(ages)}"
    )
    print(
        f"same gender: {sum(genders)}/{len(genders)}; same emotion: {sum(emotions)}/{len(emotions)}; "
        f"embedding cosine to reference: min {min(cosines):.3f}"
    )
    data, boxes = group_photo(photo, box)
    result = analyzer.analyze(data)
    matched = [max((iou(f["FaceAttributes"]["FaceBoundary"], b) for f in result.faces), default=0.0) for b in boxes]
    print(
        f"group photo 6000x4000, faces 60-400 px wide: {len(result.faces)} detections for {len(boxes)} faces; "
        f"IoU per face {[round(m, 2) for m in matched]}; ages {[f['Age'] for f in result.faces]}; "
        f"genders {[f['Gender'][0] for f in result.faces]}"
    )


if __name__ == "__main__":
    main()
