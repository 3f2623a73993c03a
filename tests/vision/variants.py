"""Generated variants of a real photo, each with the box where the face must be found (shared by tests and eval)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .conftest import encode

Box = dict[str, int]

INVERSE_ORIENTATION = {  # stored pixels = inverse of the orientation's display transform, so the displayed image is upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _scaled(box: Box, k: float, dx: int = 0, dy: int = 0) -> Box:
    return {
        "Left": round((box["Left"] - dx) * k),
        "Top": round((box["Top"] - dy) * k),
        "Width": round(box["Width"] * k),
        "Height": round(box["Height"] * k),
    }


def variants(photo: NDArray[Any], box: Box) -> dict[str, tuple[bytes, Box]]:
    """name -> (bytes, expected box in displayed pixels)."""
    pil = Image.fromarray(photo)
    out: dict[str, tuple[bytes, Box]] = {}
    for o in range(1, 9):
        stored = pil if o == 1 else pil.transpose(INVERSE_ORIENTATION[o])
        exif = Image.Exif()
        exif[0x0112] = o
        out[f"exif-{o}"] = (encode(stored, "JPEG", quality=92, exif=exif.tobytes()), box)
    for q in (30, 60, 95):
        out[f"jpeg-q{q}"] = (encode(photo, quality=q), box)
    makers: dict[str, Callable[[], bytes]] = {
        "png": lambda: encode(photo, "PNG"),
        "webp": lambda: encode(photo, "WEBP", quality=80),
        "grayscale": lambda: encode(pil.convert("L")),
        "cmyk": lambda: encode(pil.convert("CMYK")),
        "progressive": lambda: encode(photo, progressive=True),
    }
    for name, make in makers.items():
        out[name] = (make(), box)
    for k in (0.75, 2.0, 4.0, 10.0):
        size = round(photo.shape[1] * k)
        resized = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
        out[f"scale-{k:g}"] = (encode(resized, quality=90), _scaled(box, k))
    out["crop"] = (encode(np.ascontiguousarray(photo[20:400, 100:450])), _scaled(box, 1.0, 100, 20))
    return out


def group_photo(photo: NDArray[Any], box: Box) -> tuple[bytes, list[Box]]:
    """A 6000x4000 'group photo': the face pasted at six sizes (60-400 px wide); small ones need the fine pass."""
    face = photo[
        max(0, box["Top"] - 40) : box["Top"] + box["Height"] + 40,
        max(0, box["Left"] - 40) : box["Left"] + box["Width"] + 40,
    ]
    fx, fy = box["Left"] - max(0, box["Left"] - 40), box["Top"] - max(0, box["Top"] - 40)
    canvas = np.full((4000, 6000, 3), (70, 90, 110), np.uint8)
    rng = np.random.default_rng(7)
    canvas = np.clip(canvas.astype(np.int16) + rng.integers(-20, 20, canvas.shape), 0, 255).astype(np.uint8)
    boxes: list[Box] = []
    for i, width in enumerate((60, 90, 130, 200, 300, 400)):
        k = width / box["Width"]
        patch = cv2.resize(face, (round(face.shape[1] * k), round(face.shape[0] * k)), interpolation=cv2.INTER_AREA)
        x, y = 300 + i * 950, 1500 + (i % 2) * 900
        canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        boxes.append(
            {
                "Left": x + round(fx * k),
                "Top": y + round(fy * k),
                "Width": round(box["Width"] * k),
                "Height": round(box["Height"] * k),
            }
        )
    return encode(canvas, quality=88), boxes
