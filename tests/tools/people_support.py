"""Faces for the people tests: synthetic identities (unit tests, benchmark) and real SFace embeddings of real photos.

Synthetic identities follow what the real test photos show for SFace (``benchmarks/bench_people.py`` prints both): two
different people are at cosine similarity 0.08 ± 0.09 on average, so identity centres are random unit vectors with a
small shared component; one person's faces scatter around their centre by a per-face amount (image quality), giving
pairwise similarities of about 0.5–0.75 between two faces of one person.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ossfaces.document import FaceEmbedding

MODEL = "sface-2021dec-int8bq"
DIM = 128


def identities(count: int, rng: np.random.Generator, shared: float = 0.29) -> NDArray[np.float32]:
    common = rng.normal(size=DIM)
    common /= np.linalg.norm(common)
    centres = rng.normal(size=(count, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    centres += shared * common
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return centres.astype(np.float32)


def faces_of(centres: NDArray[np.float32], ids: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.float32]:
    noise = rng.normal(size=(len(ids), DIM))
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    spread = rng.uniform(0.6, 1.0, size=(len(ids), 1))
    faces = centres[ids] + spread * noise
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    return faces.astype(np.float32)


def face_json(vector: Any, *, can_seed: bool = True, age: float = 30, gender: str = "FEMALE",
              confidence: float = 0.9, box: tuple[int, int, int, int] = (10, 10, 100, 120)) -> dict[str, Any]:  # fmt: skip
    left, top, width, height = box
    return {"FaceConfidence": 0.99, "Age": float(age), "Gender": gender, "GenderConfidence": float(confidence),
            "FaceQuality": 0.9, "FaceAttributes": {"FaceBoundary": {"Left": left, "Top": top, "Width": width,
                                                                     "Height": height}},
            "Embedding": FaceEmbedding.of(vector, can_seed=can_seed).model_dump()}  # fmt: skip


def document(key: str, faces: list[dict[str, Any]], etag: str = "E1", version: str = "t") -> bytes:
    return json.dumps({"Faces": faces, "Source": {"Key": key, "ETag": etag},
                       "Engine": {"Name": "local", "Version": version}, "SchemaVersion": "1.0"}).encode()  # fmt: skip


def jpeg(image: Any, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def variants(image: Any) -> dict[str, bytes]:
    """The same person in different "photos": mirrored, darker, turned 8°, smaller and recompressed."""
    from PIL import Image, ImageEnhance, ImageOps

    width, height = image.size
    return {
        "orig": jpeg(image),
        "flip": jpeg(ImageOps.mirror(image)),
        "dark": jpeg(ImageEnhance.Brightness(image).enhance(0.6)),
        "rot8": jpeg(image.rotate(8, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))),
        "small": jpeg(image.resize((int(width * 0.6), int(height * 0.6))), 70),
    }
