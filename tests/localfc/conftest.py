"""Fixtures of the local FC tests; helpers live in localfc_support.

- ``fake_code``: a code directory with an ``index.py`` whose handler echoes what it was given (or raises).
- ``face_jpeg``: a real photo with one face (scikit-image's astronaut), JPEG bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from .localfc_support import FAKE_INDEX


@pytest.fixture
def fake_code(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "index.py").write_text(FAKE_INDEX, encoding="utf-8")
    return code


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
