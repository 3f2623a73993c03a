"""``Embedding`` in the document (issue 10's contract): written for identifiable faces, compact, and still telling
people apart after a round trip through the JSON that lies in OSS."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ossfaces.document import EngineInfo, FacesDocument, SourceInfo
from ossfaces.embedding import EMBEDDING_FORMAT, EMBEDDING_MODEL
from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.analyzer import can_seed

from .conftest import encode
from .photos import fetch_photos, load_rgb

DIFFERENT_PEOPLE = ("Tom_Hanks_54745.png", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg")
"""Single-face photos of five different people (distinct subject numbers), plus the astronaut."""


def vectors_after_json(analyzer: FaceAnalyzer, data: bytes, key: str) -> list[NDArray[Any] | None]:
    """Analyse, build the document as the pipeline does, serialise, parse again, decode each face's Embedding."""
    analysis = analyzer.analyze(data)
    doc = FacesDocument.build(
        SourceInfo(Key=key), EngineInfo(Name="local", Version=analyzer.version), faces=analysis.faces
    )
    parsed = FacesDocument.model_validate_json(doc.to_json())
    return [None if f.Embedding is None else f.Embedding.vector() for f in parsed.Faces]


@pytest.fixture(scope="module")
def paths() -> dict[str, Path]:
    return fetch_photos()


def test_same_person_high_different_people_low_after_the_json(
    analyzer: FaceAnalyzer, astronaut: NDArray[Any], paths: dict[str, Path]
) -> None:
    people: dict[str, NDArray[Any] | None] = {}
    same: dict[str, float] = {}
    (people["astronaut"],) = vectors_after_json(analyzer, encode(astronaut, quality=92), "astronaut.jpg")
    smaller = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    (variant,) = vectors_after_json(analyzer, encode(smaller, quality=60), "astronaut-small.jpg")
    reference = people["astronaut"]
    assert reference is not None and variant is not None
    same["astronaut 0.75x q60"] = float(reference @ variant)
    for name in DIFFERENT_PEOPLE:
        (people[name],) = vectors_after_json(analyzer, paths[name].read_bytes(), name)
        rgb = load_rgb(paths[name])
        half = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
        (again,) = vectors_after_json(analyzer, encode(half, quality=75), name + ".half.jpg")
        first = people[name]
        assert first is not None and again is not None, name
        same[name + " half q75"] = float(first @ again)
    vectors = {k: v for k, v in people.items() if v is not None}
    names = list(vectors)
    different = {f"{a} / {b}": float(vectors[a] @ vectors[b]) for i, a in enumerate(names) for b in names[i + 1 :]}
    print("same person:", {k: round(v, 3) for k, v in same.items()})
    print("different people: max", round(max(different.values()), 3))
    assert min(same.values()) >= 0.8, same
    assert max(different.values()) < 0.6, different
    assert max(different.values()) < min(same.values()) - 0.2, (same, different)


def test_the_field_is_compact_and_versioned(analyzer: FaceAnalyzer, paths: dict[str, Path]) -> None:
    faces = analyzer.analyze(paths["0-f1-su-ph.jpg"].read_bytes()).faces
    embedding = faces[0]["Embedding"]
    assert set(embedding) == {"Model", "Format", "Data", "CanSeed"}
    assert (embedding["Model"], embedding["Format"]) == (EMBEDDING_MODEL, EMBEDDING_FORMAT)
    raw = base64.b64decode(embedding["Data"])
    assert len(raw) == 256 and len(embedding["Data"]) == 344
    assert float(np.linalg.norm(np.frombuffer(raw, "<f2").astype(np.float32))) == pytest.approx(1, abs=1e-3)
    assert embedding["CanSeed"] is True  # 285 px, frontal, FaceQuality 0.95


def test_can_seed_follows_imm_v2s_rule(analyzer: FaceAnalyzer, paths: dict[str, Path]) -> None:
    assert can_seed(75, 29.9, -29.9, 29.9, 0.8)
    assert not can_seed(74.9, 0, 0, 0, 1.0)
    assert not can_seed(200, 30, 0, 0, 1.0) and not can_seed(200, 0, -30, 0, 1.0) and not can_seed(200, 0, 0, 30, 1.0)
    assert not can_seed(200, 0, 0, 0, 0.79) and not can_seed(200, None, None, 0, 1.0)
    faces = analyzer.analyze(paths["t1.jpg"].read_bytes()).faces
    profile = max(faces, key=lambda f: abs(f["FaceAttributes"]["HeadPose"]["Yaw"]))
    assert abs(profile["FaceAttributes"]["HeadPose"]["Yaw"]) > 60
    assert profile["Embedding"]["CanSeed"] is False  # may join a person, never found one
    for face in faces:
        pose, box = face["FaceAttributes"]["HeadPose"], face["FaceAttributes"]["FaceBoundary"]
        expected = can_seed(
            min(box["Width"], box["Height"]), pose["Yaw"], pose["Pitch"], pose["Roll"], face["FaceQuality"]
        )
        assert face["Embedding"]["CanSeed"] is expected


def test_faces_too_small_to_identify_have_no_embedding(analyzer: FaceAnalyzer, astronaut: NDArray[Any]) -> None:
    small = cv2.resize(astronaut, (146, 146), interpolation=cv2.INTER_AREA)  # face about 26 px
    canvas = np.full((240, 240, 3), 100, np.uint8)
    canvas[:146, :146] = small
    (face,) = analyzer.analyze(encode(canvas)).faces
    assert "Embedding" not in face
    doc = FacesDocument.build(SourceInfo(Key="k"), EngineInfo(Name="local", Version="v"), faces=[face])
    assert "Embedding" not in doc.to_json().decode()


def test_embeddings_off_skip_sface_and_mark_the_version(analyzer: FaceAnalyzer, paths: dict[str, Path]) -> None:
    """OSSFACES_EMBEDDINGS=false: no face carries an Embedding, and the engine version says so (results made either way
    are stale for the other, so switching embeddings on makes a backfill add them)."""
    off = FaceAnalyzer.load(embeddings=False)
    photo = paths["t1.jpg"].read_bytes()
    faces_off, faces_on = off.analyze(photo).faces, analyzer.analyze(photo).faces
    assert faces_on and any("Embedding" in face for face in faces_on)
    assert len(faces_off) == len(faces_on) and not any("Embedding" in face for face in faces_off)
    assert off.version == analyzer.version + "+noembed"
