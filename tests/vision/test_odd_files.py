"""Bad and odd files: each one gives an Analysis or a typed ImageError, never a crash or a hang; RSS stays bounded."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from ossfaces.errors import BadImage
from ossfaces.vision import Analysis, FaceAnalyzer, ImageError
from ossfaces.vision.decode import decode

from .conftest import encode, without_coverage


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` followed by a tiny IDAT: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _bomb_png() -> bytes:
    """A real zlib bomb: 12000x12000 black RGB compresses to a few hundred kB."""
    row = b"\x00" + b"\x00" * (12000 * 3)
    packer = zlib.compressobj(9)
    raw = b"".join(packer.compress(row) for _ in range(12000)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _with_orientation(img: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif.tobytes(), quality=90)


def _cases(photo: NDArray[Any]) -> dict[str, Callable[[], bytes]]:
    pil = Image.fromarray(photo)
    small = pil.resize((128, 128))
    jpeg = encode(photo, quality=90)
    cases: dict[str, Callable[[], bytes]] = {
        "zero-byte": lambda: b"",
        "text named .jpg": lambda: b"hello, this is not a photo\n" * 10,
        "html": lambda: b"<!doctype html><html><body>nope</body></html>",
        "truncated jpeg (half)": lambda: jpeg[: len(jpeg) // 2],
        "truncated jpeg (header only)": lambda: jpeg[:200],
        "jpeg magic only": lambda: b"\xff\xd8\xff",
        "random bytes": lambda: np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "png header claiming 200000x200000": lambda: _png_header_only(200_000, 200_000),
        "png header claiming 70000x10": lambda: _png_header_only(70_000, 10),
        "decompression bomb png": _bomb_png,
        "corrupt png body": lambda: encode(small, "PNG")[:-40] + b"\x00" * 40,
        "progressive jpeg": lambda: encode(photo, "JPEG", progressive=True, quality=80),
        "cmyk jpeg": lambda: encode(pil.convert("CMYK"), "JPEG"),
        "grayscale jpeg": lambda: encode(pil.convert("L"), "JPEG"),
        "1-bit png": lambda: encode(small.convert("1"), "PNG"),
        "palette png with transparency": lambda: encode(small.convert("P"), "PNG", transparency=0),
        "rgba png": lambda: encode(pil.convert("RGBA"), "PNG"),
        "la png": lambda: encode(small.convert("LA"), "PNG"),
        "16-bit grayscale png": lambda: encode(
            Image.fromarray(np.asarray(pil.convert("L")).astype(np.uint16) * 257), "PNG"
        ),
        "32-bit int tiff": lambda: encode(small.convert("I"), "TIFF"),
        "float tiff": lambda: encode(small.convert("F"), "TIFF"),
        "bmp": lambda: encode(photo, "BMP"),
        "tiff": lambda: encode(photo, "TIFF"),
        "webp": lambda: encode(photo, "WEBP", quality=85),
        "webp lossless with alpha": lambda: encode(small.convert("RGBA"), "WEBP", lossless=True),
        "gif": lambda: encode(photo, "GIF"),
        "animated gif": lambda: _animated_gif(small),
        "1x1 png": lambda: encode(Image.new("RGB", (1, 1)), "PNG"),
        "tall thin 10000x4 png": lambda: encode(Image.new("RGB", (4, 10000)), "PNG"),
        "icon (unsupported format)": lambda: encode(small, "ICO"),
        "jpeg with broken exif": lambda: jpeg[:2] + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\xff" + jpeg[2:],
        "orientation 9 (invalid)": lambda: _with_orientation(small, 9),
    }
    for o in range(1, 9):
        cases[f"exif orientation {o}"] = lambda o=o: _with_orientation(small, o)  # type: ignore[misc]
    return cases


def _animated_gif(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    frames = [img.convert("P"), img.rotate(90).convert("P"), img.rotate(180).convert("P")]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


EXPECTED_ERRORS = {
    "zero-byte": "InvalidImage.Empty",
    "text named .jpg": "InvalidImage.Unsupported",
    "html": "InvalidImage.Unsupported",
    "random bytes": "InvalidImage.Unsupported",
    "png header claiming 200000x200000": "InvalidImage.TooManyPixels",
    "png header claiming 70000x10": "InvalidImage.TooLarge",
    "decompression bomb png": "InvalidImage.TooManyPixels",
    "icon (unsupported format)": "InvalidImage.Unsupported",
    "truncated jpeg (half)": "InvalidImage.Corrupt",
}
EXPECTED_OK = {
    "progressive jpeg",
    "cmyk jpeg",
    "grayscale jpeg",
    "bmp",
    "tiff",
    "webp",
    "gif",
    "animated gif",
    "rgba png",
    "16-bit grayscale png",
    "jpeg with broken exif",
} | {f"exif orientation {o}" for o in range(1, 9)}


def test_there_are_at_least_25_kinds(astronaut: NDArray[Any]) -> None:
    assert len(_cases(astronaut)) >= 25


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_every_odd_file_gives_an_analysis_or_a_typed_error(analyzer: FaceAnalyzer, astronaut: NDArray[Any]) -> None:
    outcomes: dict[str, str] = {}
    for name, make in _cases(astronaut).items():
        data = make()
        try:
            result = analyzer.analyze(data)
        except ImageError as exc:
            assert isinstance(exc, BadImage) and exc.code.startswith("InvalidImage."), name
            outcomes[name] = exc.code
        else:
            assert isinstance(result, Analysis), name
            assert result.image.width > 0 and result.image.height > 0
            outcomes[name] = "ok"
    for name, code in EXPECTED_ERRORS.items():
        assert outcomes[name] == code, (name, outcomes[name])
    for name in EXPECTED_OK:
        assert outcomes[name] == "ok", (name, outcomes[name])
    # Whole-photo variants keep the face.
    for name in ("progressive jpeg", "cmyk jpeg", "grayscale jpeg", "bmp", "tiff", "webp", "gif", "rgba png"):
        assert len(analyzer.analyze(_cases(astronaut)[name]()).faces) == 1, name


_RSS_SCRIPT = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import skimage.data
from ossfaces.vision import FaceAnalyzer, ImageError
from vision.test_odd_files import _cases
analyzer = FaceAnalyzer.load(threads=2)
for name, make in _cases(skimage.data.astronaut()).items():
    try:
        analyzer.analyze(make())
    except ImageError:
        pass
# VmHWM, not ru_maxrss: the latter survives exec and would report the pytest parent's peak.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_peak_rss_stays_under_1_gib_in_a_fresh_process(analyzer: FaceAnalyzer) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(root / "tests"), str(root / "function")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=without_coverage(),
    )
    rss_kib = int(proc.stdout.strip().splitlines()[-1])
    assert rss_kib < 1024 * 1024, f"peak RSS {rss_kib / 1024:.0f} MiB"


def test_pixel_limit_is_checked_before_decoding(astronaut: NDArray[Any]) -> None:
    with pytest.raises(ImageError) as info:
        decode(encode(astronaut), max_pixels=512 * 511)
    assert info.value.code == "InvalidImage.TooManyPixels"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_displayed_size(orientation: int) -> None:
    img = Image.new("RGB", (300, 200), (120, 80, 40))
    decoded = decode(_with_orientation(img, orientation))
    expected = (200, 300) if orientation >= 5 else (300, 200)
    assert (decoded.info.width, decoded.info.height) == expected
    assert decoded.info.orientation == orientation
    assert decoded.bgr.shape[:2] == (expected[1], expected[0])


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    ramp = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    decoded = decode(encode(Image.fromarray(ramp), "PNG"))
    assert decoded.bgr.max() == 255 and decoded.bgr.min() == 0
    assert len(np.unique(decoded.bgr)) > 200


def test_alpha_is_composited_over_white() -> None:
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    decoded = decode(encode(rgba, "PNG"))
    assert int(decoded.bgr.min()) == 255


def test_large_jpeg_is_decoded_reduced() -> None:
    big = Image.new("RGB", (6000, 4000), (90, 120, 150))
    decoded = decode(encode(big, quality=70))
    assert max(decoded.bgr.shape[:2]) < 6000
    assert (decoded.info.width, decoded.info.height) == (6000, 4000)
    assert decoded.scale_x == pytest.approx(6000 / decoded.bgr.shape[1])
