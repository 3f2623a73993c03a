"""Decoding phone and odd formats within a memory budget (issue 11 items 5-7).

- HEIC/HEIF (pillow-heif) and AVIF (Pillow's own plugin) decode, upright, with the face where it is displayed.
- Worst-case files (``worst_cases.py``: 100-megapixel 1-bit, palette, 16-bit, alpha PNGs, a float TIFF, and every
  other format at the largest side the decoder's memory model accepts: JPEG, WebP, AVIF, HEIC, BMP, GIF) never push
  a fresh engine process over 400 MiB peak RSS: each is either decoded within that or refused by the decode budget
  with ``InvalidImage.TooLarge``; those at the budget are all accepted.
- 16-bit greyscale wider than 5,120 px decodes (it was called corrupt: Pillow's ``reduce`` does not take ``I;16``).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.decode import decode

from .conftest import encode, iou, without_coverage
from .worst_cases import at_budget, write_all

PEAK_RSS_LIMIT_MIB = 400
ROOT = Path(__file__).resolve().parents[2]


def _upright_box(analyzer: FaceAnalyzer, astronaut: NDArray[Any]) -> dict[str, int]:
    box: dict[str, int] = analyzer.analyze(encode(astronaut, quality=92)).faces[0]["FaceAttributes"]["FaceBoundary"]
    return box


def _stored_rotated(astronaut: NDArray[Any]) -> tuple[Image.Image, bytes]:
    """Pixels stored turned, with the EXIF tag (6) that shows them upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return Image.fromarray(astronaut).transpose(Image.Transpose.ROTATE_90), exif.tobytes()


def test_heic_is_decoded_upright(analyzer: FaceAnalyzer, astronaut: NDArray[Any]) -> None:
    import pillow_heif

    stored, exif = _stored_rotated(astronaut)
    heif = pillow_heif.from_pillow(stored)
    buf = io.BytesIO()
    heif.save(buf, quality=90, exif=exif)  # pillow-heif turns the EXIF orientation into the container's irot box
    result = analyzer.analyze(buf.getvalue())
    assert result.image.format == "HEIF"
    assert (result.image.width, result.image.height) == (512, 512)
    (face,) = result.faces
    assert iou(face["FaceAttributes"]["FaceBoundary"], _upright_box(analyzer, astronaut)) > 0.8
    assert face["Gender"] == "FEMALE" and "Embedding" in face


def test_avif_is_decoded_with_its_exif_orientation(analyzer: FaceAnalyzer, astronaut: NDArray[Any]) -> None:
    stored, exif = _stored_rotated(astronaut)
    result = analyzer.analyze(encode(stored, "AVIF", quality=90, exif=exif))
    assert (result.image.format, result.image.orientation) == ("AVIF", 6)
    (face,) = result.faces
    assert iou(face["FaceAttributes"]["FaceBoundary"], _upright_box(analyzer, astronaut)) > 0.8


def test_sixteen_bit_grey_wider_than_5120_px_is_decoded() -> None:
    ramp = np.tile((np.arange(6000, dtype=np.uint32) * 65535 // 5999).astype(np.uint16), (200, 1))
    decoded = decode(encode(Image.fromarray(ramp), "PNG"))
    assert (decoded.info.width, decoded.info.height) == (6000, 200)
    row = decoded.bgr[decoded.bgr.shape[0] // 2, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253 and np.all(np.diff(row) >= 0)


_RSS_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from ossfaces.vision import FaceAnalyzer, ImageError
analyzer = FaceAnalyzer.load(threads=2)
data = open(sys.argv[2], "rb").read()
try:
    result = analyzer.analyze(data)
    outcome = f"ok:{result.image.width}x{result.image.height}"
except ImageError as exc:
    outcome = exc.code
# VmHWM, not ru_maxrss: the latter survives exec and would report the pytest parent's peak.
print(outcome, next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


@pytest.fixture(scope="module")
def worst_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for side in (10_000, 6_000):
        directory = tmp_path_factory.mktemp(f"worst{side}")
        out |= {f"{name} {side}x{side}": path for name, path in write_all(directory, side).items()}
    return out | at_budget(tmp_path_factory.mktemp("at-budget"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_worst_case_files_stay_under_400_mib_in_a_fresh_process(worst_files: dict[str, Path]) -> None:
    outcomes: dict[str, tuple[str, int]] = {}
    for name, path in worst_files.items():
        proc = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(ROOT / "function"), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env=without_coverage(),
        )
        outcome, kib = proc.stdout.split()
        outcomes[name] = (outcome, int(kib) // 1024)
    print("\n".join(f"{name:40s} {outcome:28s} peak {mib} MiB" for name, (outcome, mib) in outcomes.items()))
    over = {name: mib for name, (_, mib) in outcomes.items() if mib > PEAK_RSS_LIMIT_MIB}
    assert not over, outcomes
    at_the_budget = {name: o for name, (o, _) in outcomes.items() if not name.endswith(("10000x10000", "6000x6000"))}
    assert all(o.startswith("ok:") for o in at_the_budget.values()), outcomes
    assert all(o.startswith("ok:") or o == "InvalidImage.TooLarge" for o, _ in outcomes.values()), outcomes
    # Every kind is accepted at 36 megapixels (but the float TIFF: deflate-compressed, libtiff needs it twice); at
    # 100 the one-byte-per-pixel kinds still are.
    accepted = {name: o for name, (o, _) in outcomes.items() if name.endswith("6000x6000") and "tiff" not in name}
    assert set(accepted.values()) == {"ok:6000x6000"}, outcomes
    for kind in ("1-bit png", "8-bit grey png", "palette png with transparency"):
        assert outcomes[f"{kind} 10000x10000"][0] == "ok:10000x10000", outcomes


def test_a_broken_heic_is_a_typed_error(astronaut: NDArray[Any]) -> None:
    import pillow_heif

    from ossfaces.vision import ImageError

    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(astronaut)).save(buf, quality=80)
    whole = buf.getvalue()
    for name, data in (("truncated", whole[: len(whole) // 2]), ("header only", whole[:64])):
        with pytest.raises(ImageError) as info:
            decode(data)
        assert info.value.code in ("InvalidImage.Corrupt", "InvalidImage.Unsupported"), name


def test_a_truncated_avif_is_corrupt_not_unsupported(astronaut: NDArray[Any]) -> None:
    """A damaged file of a supported format is ``Corrupt`` (as a truncated HEIC or JPEG is), not ``Unsupported``."""
    from ossfaces.vision import ImageError

    whole = encode(astronaut, "AVIF", quality=80)
    for name, data in (("truncated", whole[: len(whole) // 2]), ("header only", whole[:40])):
        with pytest.raises(ImageError) as info:
            decode(data)
        assert info.value.code == "InvalidImage.Corrupt", name


def test_analyses_at_once_hold_no_more_than_the_budget() -> None:
    """``MemoryBudget``: analyses whose estimates do not fit together wait; one larger than the whole budget runs
    alone; the most held at once never passes the capacity."""
    import threading
    import time

    from ossfaces.vision.budget import MemoryBudget

    budget = MemoryBudget(100)
    running: list[int] = []
    most = [0]
    lock = threading.Lock()

    def analysis(amount: int) -> None:
        with budget.hold(amount):
            with lock:
                running.append(amount)
                most[0] = max(most[0], sum(running))
            time.sleep(0.05)
            with lock:
                running.remove(amount)

    threads = [threading.Thread(target=analysis, args=(a,)) for a in (60, 60, 30, 250, 10, 60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] <= 250 and budget.peak <= 100 and budget.held == 0
    assert most[0] >= 90  # what fits together does run together (60 + 30, or 60 + 30 + 10)


def test_the_engine_estimates_before_it_decodes(analyzer: FaceAnalyzer, astronaut: NDArray[Any]) -> None:
    """``analysis_bytes`` reads the header only; every analysis holds its estimate from the one process budget."""
    from ossfaces.vision.budget import ANALYSIS_MEMORY
    from ossfaces.vision.decode import DECODE_BUDGET_BYTES, analysis_bytes

    photo = encode(astronaut, quality=90)
    assert 0 < analysis_bytes(photo) < DECODE_BUDGET_BYTES and analysis_bytes(b"not an image") == 0
    ANALYSIS_MEMORY.peak = 0
    analyzer.analyze(photo)
    assert ANALYSIS_MEMORY.peak == analysis_bytes(photo) and ANALYSIS_MEMORY.held == 0
