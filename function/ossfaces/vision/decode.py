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

import functools
import io
from collections.abc import Callable
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

DECODE_BUDGET_BYTES = 184 * 1024 * 1024
"""The most memory one decode may hold at its peak: the decoder's own buffers, the decoded frame, one band of
temporaries and the reduced array (``decode_bytes``). With the engine's ~200 MiB of code and models, this keeps every
accepted file at or under 400 MiB peak RSS in a fresh process (``tests/vision/test_decode_formats.py``;
``benchmarks/bench_decode_memory.py`` prints the figures). What fits: 100-megapixel grey, 1-bit and palette PNGs;
colour PNG, BMP, GIF and TIFF up to about 38 MP; HEIC (4:2:0) about 40 MP; WebP about 26 MP; AVIF about 16 MP; any
JPEG (the DCT reduces large ones). A larger file is refused with ``InvalidImage.TooLarge`` before any pixel is
decoded."""
MAX_DECODED_BYTES = DECODE_BUDGET_BYTES  # the former name
BAND_ROWS = 128
"""Source rows converted at a time (rounded to a multiple of the reduction): the only full-width temporaries."""

BAND_ALPHA_BYTES = 8
"""Per pixel of a band with transparency: the RGBA copy and the white it is composed over (``_to_rgb_array``)."""
WEBP_CANVAS_BYTES = 4
"""libwebp's RGBA canvas (the animation decoder OpenCV's WebP reader uses), freed before the reduction."""
AVIF_HELD_BYTES, AVIF_TRANSIENT_BYTES = 6, 5
"""Pillow's AVIF decoder per pixel: what it keeps while the frame is reduced (its image and libavif's buffers) and
what it adds while decoding (4:4:4 measured; 4:2:0 takes less)."""
HEIF_CHROMA_BYTES = {420: 1.5, 422: 2.0, 444: 3.0, 400: 1.0}
"""libheif's YUV planes per pixel, by the chroma pi-heif reports (twice that above 8 bits), freed once it has
written the RGB buffer."""
ANALYSIS_BYTES_PER_PIXEL = 8
"""After the decode: the decoded array (3) and the detector's and attribute networks' working set, per pixel of the
array (measured on a 26-megapixel one: ``benchmarks/bench_decode_memory.py``)."""

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


def _reduced_bgr(width: int, height: int, factor: int, band_rgb: Callable[[int, int], NDArray[Any]]) -> NDArray[Any]:
    """The frame as BGR uint8, area-averaged by ``factor``, written band by band into one array: the only full-width
    temporaries are one band's (``band_rgb(top, bottom)``: the frame's rows ``top:bottom`` as RGB uint8)."""
    out_w = max(1, round(width / factor)) if factor > 1 else width
    step = factor * max(1, BAND_ROWS // factor)
    spans = [(top, min(height, top + step)) for top in range(0, height, step)]
    rows = [max(1, round((bottom - top) / factor)) if factor > 1 else bottom - top for top, bottom in spans]
    out = np.empty((sum(rows), out_w, 3), np.uint8)
    row = 0
    for (top, bottom), count in zip(spans, rows, strict=True):
        band = band_rgb(top, bottom)
        if factor > 1:
            band = cv2.resize(band, (out_w, count), interpolation=cv2.INTER_AREA)
        cv2.cvtColor(band, cv2.COLOR_RGB2BGR, dst=out[row : row + count])
        row += count
    return out


def _reduction(width: int, height: int, work_side: int) -> int:
    """Integer area reduction that keeps the longest side at least ``work_side`` (1 below twice that)."""
    return max(1, max(width, height) // work_side) if max(width, height) > 2 * work_side else 1


def _is_heif(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _claimed_format(data: bytes) -> str | None:
    """The format the first bytes claim (so a truncated or damaged file of a supported format is called corrupt, not
    unsupported), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return "HEIF" if data[8:12] in HEIF_BRANDS else "AVIF" if data[8:12] in (b"avif", b"avis") else None
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def _out_bytes(width: int, height: int, factor: int) -> int:
    return 3 * -(-width // factor) * -(-height // factor)


def _working_bytes(width: int, height: int, factor: int, band_pixel_bytes: int) -> int:
    """The reduced array and one band of temporaries (``_reduced_bgr``): the band's crop, its RGB copy, and for
    transparent images the composite, per source pixel ``band_pixel_bytes``."""
    band_rows = min(height, factor * max(1, BAND_ROWS // factor))
    return _out_bytes(width, height, factor) + band_rows * width * band_pixel_bytes


def _band_pixel_bytes(storage: int, alpha: bool) -> int:
    return storage + 3 + (BAND_ALPHA_BYTES if alpha else 0)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "La", "PA", "RGBa") or (img.mode == "P" and "transparency" in img.info)


def _frame_bytes(img: Image.Image, fmt: str) -> tuple[int, int]:
    """``(held, transient)``: what the decoded frame takes while it is reduced, and what the decoder adds while it
    decodes (see the byte constants above)."""
    pixels = img.size[0] * img.size[1]
    if fmt == "WEBP":
        return (4 if img.mode == "RGBA" else 3) * pixels, WEBP_CANVAS_BYTES * pixels
    if fmt == "AVIF":
        return AVIF_HELD_BYTES * pixels, AVIF_TRANSIENT_BYTES * pixels
    storage = _storage_bytes(img.mode, *img.size)
    if fmt == "TIFF" and img.info.get("compression", "raw") != "raw":
        return storage, storage  # libtiff decodes a whole strip or tile into its own buffer first; one can be all
    return storage, 0


def _heif_frame_bytes(heif: Any) -> tuple[int, int]:
    pixels = heif.size[0] * heif.size[1]
    chroma = HEIF_CHROMA_BYTES.get(int(heif.info.get("chroma", 444)), 3.0)
    depth = 2 if int(heif.info.get("bit_depth", 8)) > 8 else 1
    return (4 if heif.has_alpha else 3) * pixels, int(chroma * depth * pixels)


def decode_bytes(frame: tuple[int, int], width: int, height: int, factor: int, band_pixel_bytes: int) -> int:
    """The most one decode holds at once: the frame (``held``), beside either what the decoder adds while decoding
    (``transient``) or, after it, the reduction's array and band."""
    held, transient = frame
    return held + max(transient, _working_bytes(width, height, factor, band_pixel_bytes))


def _pillow_decode_bytes(img: Image.Image, fmt: str, factor: int) -> int:
    width, height = img.size
    band = _band_pixel_bytes(_STORAGE_BYTES.get(img.mode, 4), _has_alpha(img))
    return decode_bytes(_frame_bytes(img, fmt), width, height, factor, band)


def _heif_decode_bytes(heif: Any, factor: int) -> int:
    width, height = heif.size
    band = _band_pixel_bytes(0, heif.has_alpha)  # the band is a view of libheif's buffer
    return decode_bytes(_heif_frame_bytes(heif), width, height, factor, band)


def _draft(img: Image.Image, work_side: int) -> None:
    """Large JPEGs: Pillow picks the largest DCT reduction that keeps the image at least ``work_side`` long."""
    width, height = img.size
    if img.format in ("JPEG", "MPO") and max(width, height) > work_side:
        ratio = work_side / max(width, height)
        img.draft(None, (max(1, round(width * ratio)), max(1, round(height * ratio))))


def analysis_bytes(data: bytes, work_side: int = 2560) -> int:
    """What analysing ``data`` will hold at its peak, from the header alone: the file, and the decode
    (``decode_bytes``) or the analysis of the decoded array (``ANALYSIS_BYTES_PER_PIXEL``), whichever is larger;
    0 for what will not decode."""
    try:
        if _claimed_format(data) == "HEIF":
            import pi_heif  # type: ignore[import-untyped]

            heif = pi_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
            width, height = heif.size
            factor = _reduction(width, height, work_side)
            decoding = _heif_decode_bytes(heif, factor)
        else:
            with Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS) as img:
                _draft(img, work_side)
                width, height = img.size
                factor = _reduction(width, height, work_side)
                decoding = _pillow_decode_bytes(img, "JPEG" if img.format == "MPO" else str(img.format), factor)
    except Exception:  # anything unreadable is decode's to refuse, with its reason
        return 0
    return len(data) + max(decoding, ANALYSIS_BYTES_PER_PIXEL * _out_bytes(width, height, factor) // 3)


def _decode_heif(data: bytes, *, max_pixels: int, max_decoded_bytes: int, work_side: int) -> Decoded:
    """HEIC/HEIF through libheif: header checked first, then one decode into an RGB(A) buffer, reduced by OpenCV."""
    try:
        import pi_heif  # decode-only pillow-heif: LGPL-3.0, no GPL encoder
    except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
        raise ImageError("InvalidImage.Unsupported", "HEIF support (pi-heif) is not installed") from exc
    try:
        heif = pi_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = heif.size
        _check_size(width, height, max_pixels)
        factor = _reduction(width, height, work_side)
        need = _heif_decode_bytes(heif, factor)
        if need > max_decoded_bytes:
            raise _too_large(need, max_decoded_bytes, width, height)
        arr = np.asarray(heif)
    except ImageError:
        raise
    except MemoryError as exc:
        raise ImageError("InvalidImage.TooManyPixels", "not enough memory to decode the image") from exc
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        raise ImageError("InvalidImage.Corrupt", f"cannot decode the HEIF image: {exc}") from exc
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise ImageError("InvalidImage.Unsupported", f"unexpected HEIF pixel layout {arr.shape} {arr.dtype}")
    bgr = _reduced_bgr(width, height, factor, functools.partial(_heif_band, arr))
    del arr, heif
    info = ImageInfo(width, height, "HEIF", 1)
    return Decoded(bgr, info, width / bgr.shape[1], height / bgr.shape[0])


def _webp_pixels(data: bytes, factor: int) -> NDArray[Any]:
    """WebP through OpenCV's reader: libwebp's canvas and one BGR(A) array, where Pillow's plugin holds four frames'
    worth (its decoder's two canvases, the frame's bytes, its image). The first frame of an animation, as Pillow."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ImageError("InvalidImage.Corrupt", "cannot decode the WebP image")
    height, width = pixels.shape[:2]
    if pixels.shape[2] == 3:
        return _reduced_bgr(width, height, factor, lambda top, bottom: pixels[top:bottom, :, ::-1])
    return _reduced_bgr(
        width, height, factor, lambda top, bottom: _to_rgb_array(Image.fromarray(pixels[top:bottom, :, [2, 1, 0, 3]]))
    )


def _heif_band(arr: NDArray[Any], top: int, bottom: int) -> NDArray[Any]:
    band = arr[top:bottom]
    if band.shape[2] == 4:
        return _to_rgb_array(Image.fromarray(np.ascontiguousarray(band), "RGBA"))
    return band


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
    max_decoded_bytes: int = DECODE_BUDGET_BYTES,
) -> Decoded:
    """Decode ``data`` so that its longest displayed side is about ``work_side`` (never upscaled), or raise ImageError."""
    if not data:
        raise ImageError("InvalidImage.Empty", "the file is empty")
    try:
        img = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError as exc:
        claimed = _claimed_format(data)
        if claimed == "HEIF":
            return _decode_heif(data, max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes, work_side=work_side)
        if claimed is not None:
            raise ImageError(
                "InvalidImage.Corrupt", f"cannot read the {claimed} header (truncated or damaged)"
            ) from exc
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
            _draft(img, work_side)
            frame_w, frame_h = img.size
            factor = _reduction(frame_w, frame_h, work_side)
            need = _pillow_decode_bytes(img, fmt, factor)
            if need > max_decoded_bytes:
                raise _too_large(need, max_decoded_bytes, width, height)
            if fmt == "WEBP":
                orientation = _orientation(img)
                img.close()  # before the pixels: what Pillow's decoder set aside is free
                bgr = _webp_pixels(data, factor)
            else:
                # An opened image is at its first frame (GIF, APNG, multi-page TIFF); no seek (it would decode again).
                img.load()
                # After load: a PNG's eXIf chunk may follow its pixels, and getexif() would otherwise decode them early.
                orientation = _orientation(img)
                peak = _peak(img)
                bgr = _reduced_bgr(
                    frame_w,
                    frame_h,
                    factor,
                    lambda top, bottom: _to_rgb_array(img.crop((0, top, frame_w, bottom)), peak),
                )
        except ImageError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageError("InvalidImage.TooManyPixels", str(exc)) from exc
        except MemoryError as exc:
            raise ImageError("InvalidImage.TooManyPixels", "not enough memory to decode the image") from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
            raise ImageError("InvalidImage.Corrupt", f"cannot decode the image: {exc}") from exc
    bgr = _orient(bgr, orientation)  # the frame is closed: its memory is free before a turn copies the array
    full_w, full_h = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
    return Decoded(bgr, ImageInfo(full_w, full_h, fmt, orientation), full_w / bgr.shape[1], full_h / bgr.shape[0])
