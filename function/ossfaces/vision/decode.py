"""Decoding untrusted photo bytes into a BGR array, safely and no larger than the detector needs.

Order matters: Pillow opens lazily, so we read the header, check format, dimensions, pixel count and the memory the
decoded frame will take, and only then decode. Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale by the DCT itself
(``Image.draft``), which is both faster and smaller than decoding everything and resizing. Other formats are decoded
at full size in their own mode (a 1-bit PNG stays one byte per pixel) and then converted and reduced band by band, so
no full-size RGBA, float or RGB copy is ever made. The EXIF orientation is applied to the reduced array, so it is the
image as people see it; ``scale`` maps its pixels back to the full displayed size, the frame of every box we write.

HEIC/HEIF is decoded by libheif (pi-heif, the decode-only build of pillow-heif) straight into one RGB buffer, with the container's rotation and mirror
(``irot``/``imir``) applied by libheif, as the HEIF standard asks; its EXIF orientation is then informational and not
applied again (``Orientation`` 1). AVIF is Pillow's own plugin and goes the common way (EXIF orientation applied).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from ossfaces.defaults import DEFAULT_MAX_PIXELS
from ossfaces.errors import BadImage

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")  # JPEG includes MPO
"""What Pillow may even try. Everything else (PSD, ICO, EPS, …) is refused before any of its parsers runs."""
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
"""ISO-BMFF major brands that go to libheif (``mif1``/``msf1`` only when Pillow's AVIF plugin did not take them)."""
ALL_FORMATS = (*SUPPORTED_FORMATS, "HEIF")

MAX_DECODED_BYTES = 160 * 1024 * 1024
"""The most memory one decoded frame may take before it is reduced (Pillow's own storage: 1 byte per pixel for 1-bit,
grey and palette images, 2 for 16-bit grey, 4 for everything else; 3 for HEIF's RGB buffer). With the engine's
~150 MiB of code and models and the detector's working set, this keeps every accepted file under 400 MiB peak RSS
(tests/vision/test_decode_formats.py). 100-megapixel grey and palette images fit; colour images up to 40 MP. A
compressed TIFF counts twice (libtiff's own strip buffer)."""
BAND_ROWS = 256
"""Source rows converted at a time (rounded to a multiple of the reduction): the only full-width temporaries."""

_STORAGE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")

MAX_SIDE = 65_000
"""Longest side we accept: above this OpenCV's int arithmetic and most viewers give up."""

_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)


def _orient(arr: NDArray[Any], orientation: int) -> NDArray[Any]:
    """The array as displayed for an EXIF orientation (the same operations as ``ImageOps.exif_transpose``)."""
    if orientation == 2:
        return cv2.flip(arr, 1)
    if orientation == 3:
        return cv2.rotate(arr, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(arr, 0)
    if orientation == 5:
        return np.ascontiguousarray(arr.transpose(1, 0, 2))
    if orientation == 6:
        return cv2.rotate(arr, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(arr, cv2.ROTATE_90_COUNTERCLOCKWISE)[:, ::-1].copy()
    if orientation == 8:
        return cv2.rotate(arr, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return arr


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


def _storage_bytes(mode: str, width: int, height: int) -> int:
    return _STORAGE_BYTES.get(mode, 4) * width * height


def _to_rgb_array(img: Image.Image, peak: float | None = None) -> NDArray[Any]:
    """Any Pillow mode -> RGB uint8: alpha over white, 16-bit and float scaled (not clipped), CMYK converted.

    ``peak``: the whole image's largest value for 16-bit and float modes, so that bands of one image scale alike.
    """
    mode = img.mode
    if mode in _HIGH_DEPTH:
        arr = np.asarray(img, dtype=np.float32)
        top = (float(arr.max()) if arr.size else 0.0) if peak is None else peak
        if mode == "F" and top <= 1.0:
            arr = arr * 255.0
        elif top > 255.0:
            arr = arr / 257.0 if top <= 65535.0 else arr * (255.0 / top)
        gray = np.clip(arr, 0, 255).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.asarray(img)


def _peak(img: Image.Image) -> float | None:
    """The largest value of a 16-bit or float image (Pillow computes it without a copy); None for other modes."""
    if img.mode not in _HIGH_DEPTH:
        return None
    extrema = img.getextrema()
    top = extrema[1] if isinstance(extrema, tuple) and not isinstance(extrema[0], tuple) else 0.0
    return float(top)  # type: ignore[arg-type]


def _reduced_rgb(frame: Image.Image, factor: int) -> NDArray[Any]:
    """The frame as RGB uint8, area-averaged by ``factor``, converted band by band: never a full-size copy."""
    width, height = frame.size
    out_w = max(1, round(width / factor))
    peak = _peak(frame)
    bands = []
    step = factor * max(1, BAND_ROWS // factor)
    for top in range(0, height, step):
        bottom = min(height, top + step)
        band = _to_rgb_array(frame.crop((0, top, width, bottom)), peak)
        if factor > 1:
            rows = max(1, round((bottom - top) / factor))
            band = cv2.resize(band, (out_w, rows), interpolation=cv2.INTER_AREA)
        bands.append(band)
    return bands[0] if len(bands) == 1 else np.vstack(bands)


def _reduction(width: int, height: int, work_side: int) -> int:
    """Integer area reduction that keeps the longest side at least ``work_side`` (1 below twice that)."""
    return max(1, max(width, height) // work_side) if max(width, height) > 2 * work_side else 1


def _is_heif(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS


def _decode_heif(data: bytes, *, max_pixels: int, max_decoded_bytes: int, work_side: int) -> Decoded:
    """HEIC/HEIF through libheif: header checked first, then one decode into an RGB(A) buffer, reduced by OpenCV."""
    try:
        import pi_heif  # type: ignore[import-untyped]  # decode-only pillow-heif: LGPL-3.0, no GPL encoder
    except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
        raise ImageError("InvalidImage.Unsupported", "HEIF support (pi-heif) is not installed") from exc
    try:
        heif = pi_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = heif.size
        _check_size(width, height, max_pixels)
        channels = 4 if heif.has_alpha else 3
        if width * height * channels > max_decoded_bytes:
            raise _too_large(width * height * channels, max_decoded_bytes, width, height)
        arr = np.asarray(heif)
    except ImageError:
        raise
    except MemoryError as exc:
        raise ImageError("InvalidImage.TooManyPixels", "not enough memory to decode the image") from exc
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        raise ImageError("InvalidImage.Corrupt", f"cannot decode the HEIF image: {exc}") from exc
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise ImageError("InvalidImage.Unsupported", f"unexpected HEIF pixel layout {arr.shape} {arr.dtype}")
    factor = _reduction(width, height, work_side)
    rows = []
    step = factor * max(1, BAND_ROWS // factor)
    out_w = max(1, round(width / factor))
    for top in range(0, height, step):
        band = arr[top : top + step]
        if band.shape[2] == 4:
            band = _to_rgb_array(Image.fromarray(np.ascontiguousarray(band), "RGBA"))
        if factor > 1:
            band = cv2.resize(band, (out_w, max(1, round(band.shape[0] / factor))), interpolation=cv2.INTER_AREA)
        rows.append(cv2.cvtColor(np.ascontiguousarray(band), cv2.COLOR_RGB2BGR))
    del arr, heif
    bgr = rows[0] if len(rows) == 1 else np.vstack(rows)
    info = ImageInfo(width, height, "HEIF", 1)
    return Decoded(bgr, info, width / bgr.shape[1], height / bgr.shape[0])


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError("InvalidImage.Corrupt", f"invalid dimensions {width}x{height}")
    if max(width, height) > MAX_SIDE:
        raise ImageError("InvalidImage.TooLarge", f"{width}x{height}: a side is longer than {MAX_SIDE} px")
    if width * height > max_pixels:
        raise ImageError(
            "InvalidImage.TooManyPixels",
            f"{width}x{height} = {width * height} pixels, more than the limit of {max_pixels}",
        )


def _too_large(need: int, budget: int, width: int, height: int) -> ImageError:
    return ImageError(
        "InvalidImage.TooLarge",
        f"{width}x{height} would take {need / 2**20:.0f} MiB decoded, more than the budget of {budget / 2**20:.0f} MiB"
        " (a smaller or JPEG version of the photo can be analysed)",
    )


def decode(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    work_side: int = 2560,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
) -> Decoded:
    """Decode ``data`` so that its longest displayed side is about ``work_side`` (never upscaled), or raise ImageError."""
    if not data:
        raise ImageError("InvalidImage.Empty", "the file is empty")
    try:
        img = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError as exc:
        if _is_heif(data):
            return _decode_heif(data, max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes, work_side=work_side)
        raise ImageError(
            "InvalidImage.Unsupported", f"not an image in a supported format ({', '.join(ALL_FORMATS)})"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageError("InvalidImage.TooManyPixels", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("InvalidImage.Corrupt", f"cannot read the image header: {exc}") from exc
    with img:
        fmt = "JPEG" if img.format == "MPO" else str(img.format)
        width, height = img.size
        _check_size(width, height, max_pixels)
        try:
            if img.format in ("JPEG", "MPO") and max(width, height) > work_side:
                # Pillow picks the largest DCT reduction that keeps the image at least this size.
                ratio = work_side / max(width, height)
                img.draft(None, (max(1, round(width * ratio)), max(1, round(height * ratio))))
            need = _storage_bytes(img.mode, *img.size)
            if img.format == "TIFF" and img.info.get("compression", "raw") != "raw":
                need *= 2  # libtiff decodes a whole strip or tile into its own buffer first; one strip can be all
            if need > max_decoded_bytes:
                raise _too_large(need, max_decoded_bytes, width, height)
            # An opened image is at its first frame (GIF, APNG, multi-page TIFF); no seek, which would decode again.
            img.load()
            # After load: a PNG's eXIf chunk may follow its pixels, and getexif() would otherwise decode them early.
            orientation = _orientation(img)
            rgb = _orient(_reduced_rgb(img, _reduction(*img.size, work_side)), orientation)
        except ImageError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageError("InvalidImage.TooManyPixels", str(exc)) from exc
        except MemoryError as exc:
            raise ImageError("InvalidImage.TooManyPixels", "not enough memory to decode the image") from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
            raise ImageError("InvalidImage.Corrupt", f"cannot decode the image: {exc}") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError("InvalidImage.Unsupported", f"unexpected pixel layout {rgb.shape}")
    full_w, full_h = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    return Decoded(bgr, ImageInfo(full_w, full_h, fmt, orientation), full_w / bgr.shape[1], full_h / bgr.shape[0])
