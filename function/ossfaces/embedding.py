"""The ``Embedding`` field's wire format (issue 10's contract), without pydantic or OpenCV: the engine writes it,
the document model validates it, ``people`` reads it.

``Data`` is the base64 of 128 little-endian IEEE float16 values, the L2-normalised SFace vector, so the cosine of two
faces is the dot product of their decoded vectors.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

EMBEDDING_MODEL = "sface-2021dec-int8bq"
EMBEDDING_FORMAT = "f16le-base64"
EMBEDDING_DIMENSIONS = 128


def encode_vector(vector: Sequence[float] | NDArray[Any]) -> str:
    """L2-normalise, round to float16 (the norm stays within 1e-3 of 1), base64."""
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    unit = v / max(float(np.linalg.norm(v)), 1e-12)
    return base64.b64encode(unit.astype("<f2").tobytes()).decode("ascii")


def decode_vector(data: str, fmt: str = EMBEDDING_FORMAT) -> NDArray[np.float32]:
    """The vector as float32 (ValueError for an unknown format or a wrong length)."""
    if fmt != EMBEDDING_FORMAT:
        raise ValueError(f"unknown embedding format {fmt!r}")
    raw = base64.b64decode(data, validate=True)
    if len(raw) != 2 * EMBEDDING_DIMENSIONS:
        raise ValueError(f"embedding has {len(raw)} bytes, expected {2 * EMBEDDING_DIMENSIONS}")
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)


def embedding_field(vector: Sequence[float] | NDArray[Any], *, can_seed: bool) -> dict[str, Any]:
    """The face's ``Embedding`` object as written in the document."""
    return {"Model": EMBEDDING_MODEL, "Format": EMBEDDING_FORMAT, "Data": encode_vector(vector), "CanSeed": can_seed}
