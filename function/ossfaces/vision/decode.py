"""Decoding untrusted photo bytes into a BGR array, safely and no larger than the detector needs.

Order matters: Pillow opens lazily, so we read the header, check format, dimensions and pixel count, and only then
decode. Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale by the DCT itself (``Image.draft``), which is both faster and
smaller than decoding everything and resizing. The EXIF orientation is applied after that, so the array is the image as
people see it; ``scale`` maps its pixels back to the full displayed size, the coordinate system of every box we write.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from ossfaces.errors import BadImage

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes MPO
"""What Pillow may even try. Everything else (PSD, ICO, EPS, …) is refused before any of its parsers runs."""

MAX_SIDE = 65_000
"""Longest side we accept: above this OpenCV's int arithmetic and most viewers give up."""

_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation -> the operation that shows the image upright (the same table as ``ImageOps.exif_transpose``)."""


class ImageError(BadImage):
    """The bytes are not an image we can analyse. Codes: ``InvalidImage.Empty``, ``.Corrupt``, ``.Unsupported``,
    ``.TooManyPixels``, ``.TooLarge``."""


@dataclass(frozen=True)
class ImageInfo:
    """The image as displayed: width and height after EXIF orientation; ``format`` as Pillow names it."""

    width: int
    height: int
    format: str
    orientation: int


@dataclass(frozen=True)
class Decoded:
    """A BGR uint8 array of the displayed image, possibly reduced; ``scale_*`` = full displayed px per array px."""

    bgr: NDArray[Any]
    info: ImageInfo
    scale_x: float
    scale_y: float


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a good picture unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb_array(img: Image.Image) -> NDArray[Any]:
    """Any Pillow mode -> RGB uint8: alpha over white, 16-bit and float scaled (not clipped), CMYK converted."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = float(arr.max()) if arr.size else 0.0
        if mode == "F" and peak <= 1.0:
            arr = arr * 255.0
        elif peak > 255.0:
            arr = arr / 257.0 if peak <= 65535.0 else arr * (255.0 / peak)
        gray = np.clip(arr, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.asarray(img)


def decode(data: bytes, *, max_pixels: int = 100_000_000, work_side: int = 2560) -> Decoded:
    """Decode ``data`` so that its longest displayed side is about ``work_side`` (never upscaled), or raise ImageError."""
    if not data:
        raise ImageError("InvalidImage.Empty", "the file is empty")
    try:
        img = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageError(
            "InvalidImage.Unsupported", f"not an image in a supported format ({', '.join(SUPPORTED_FORMATS)})"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageError("InvalidImage.TooManyPixels", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("InvalidImage.Corrupt", f"cannot read the image header: {exc}") from exc
    with img:
        fmt = "JPEG" if img.format == "MPO" else str(img.format)
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageError("InvalidImage.Corrupt", f"invalid dimensions {width}x{height}")
        if max(width, height) > MAX_SIDE:
            raise ImageError("InvalidImage.TooLarge", f"{width}x{height}: a side is longer than {MAX_SIDE} px")
        if width * height > max_pixels:
            raise ImageError(
                "InvalidImage.TooManyPixels",
                f"{width}x{height} = {width * height} pixels, more than the limit of {max_pixels}",
            )
        orientation = _orientation(img)
        full_w, full_h = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
        info = ImageInfo(full_w, full_h, fmt, orientation)
        try:
            if img.format in ("JPEG", "MPO") and max(width, height) > work_side:
                # Pillow picks the largest DCT reduction that keeps the image at least this size.
                ratio = work_side / max(width, height)
                img.draft(None, (max(1, round(width * ratio)), max(1, round(height * ratio))))
            img.seek(0)  # first frame of GIF / APNG / multi-page TIFF
            img.load()
            frame: Image.Image = img
            if max(frame.size) > 2 * work_side:
                if frame.mode in ("P", "1"):
                    frame = frame.convert("RGBA")
                frame = frame.reduce(max(frame.size) // work_side)
            if orientation != 1:
                frame = frame.transpose(_TRANSPOSE[orientation])
            rgb = _to_rgb_array(frame)
        except Image.DecompressionBombError as exc:
            raise ImageError("InvalidImage.TooManyPixels", str(exc)) from exc
        except MemoryError as exc:
            raise ImageError("InvalidImage.TooManyPixels", "not enough memory to decode the image") from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
            raise ImageError("InvalidImage.Corrupt", f"cannot decode the image: {exc}") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError("InvalidImage.Unsupported", f"unexpected pixel layout {rgb.shape}")
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    return Decoded(bgr, info, full_w / bgr.shape[1], full_h / bgr.shape[0])
