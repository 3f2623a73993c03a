"""``FaceAnalyzer``: photo bytes in, IMM v1 face dicts out. Loaded once per process, safe to call from many threads.

Coordinates: everything is computed on the decoded (possibly reduced) array and mapped back to pixels of the full image
as displayed, after EXIF orientation, the frame every box in a document uses. Boxes are clipped to the image.
"""

from __future__ import annotations

import functools
import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ossfaces import __version__
from ossfaces.defaults import DEFAULT_MAX_PIXELS, DEFAULT_MIN_FACE_PX, DEFAULT_SCORE_THRESHOLD
from ossfaces.embedding import embedding_field
from ossfaces.heap import keep_large_blocks_mapped
from ossfaces.vision.attributes import (
    DEFAULT_AUGMENTATION,
    NET_INPUTS,
    Aligned,
    AttributeModels,
    Augmentation,
    FaceAttributes,
    aligned,
    face_quality,
)
from ossfaces.vision.budget import within_memory_budget
from ossfaces.vision.calibration import Calibration, load_calibration
from ossfaces.vision.decode import ImageInfo, decode
from ossfaces.vision.detect import CHECK_SCORE, COARSE_SIDE, Detection, Detector
from ossfaces.vision.models import manifest_digest, verify_models
from ossfaces.vision.nets import Net, cpu_budget, load_all
from ossfaces.vision.yunet import YuNet

ENGINE_REVISION = 4
"""Bumped whenever the engine's code changes what it writes for the same photo and models (it is part of
``version``, so results from an older revision are stale and a backfill redoes them). 2: one chip per network
(no mirror / zoom averaging), ``Embedding`` for identifiable faces. 3: detections that fail the face check
(``FaceAnalyzer.check_faces``: animals, wheels, lenses) are dropped. 4: the networks run on onnxruntime (YuNet
decoded in numpy, SFace dequantised once): the same faces, probabilities within 1e-3, embeddings at cosine >= 0.99999
to revision 3's (``tests/vision/test_onnxruntime.py``), but the last digits of some fields move."""
CHECK_MIN_NORM = 7.0
"""A detection is dropped when the second look does not confirm it (``detect.CHECK_SCORE``) *and* its raw SFace
feature is shorter than this (``AttributeModels.feature_norms``). Either signal alone also dropped real faces: the second look misses faces
with the eyes or half the face covered, the feature is short on small, blurred or turned faces. Together they dropped
none of the 287 faces found on 181 versions of photos with people, and 14 of the 18 false faces on 76 photos of
animals and objects (``benchmarks/eval_engine.py --false-positives``)."""
LOAD_WORKERS = 2
"""Threads that hash and load the model files at start: FC's smallest instances and this machine have two cores."""
WORK_SIDE = 2560
"""Longest side of the decoded working array: large JPEGs are DCT-reduced to at least this (faces keep detail)."""


@dataclass(frozen=True)
class Analysis:
    """What one photo holds: the displayed image's facts, IMM-shaped face dicts, and per face its embedding (None
    where the face is too small or blurred to identify)."""

    image: ImageInfo
    faces: list[dict[str, Any]]
    embeddings: list[NDArray[Any] | None]


SEED_MIN_PX = 75.0
SEED_MAX_ANGLE = 30.0
SEED_MIN_QUALITY = 0.8
"""IMM v2's rule for a face that may found a person (``Embedding.CanSeed``): shorter box side >= 75 px in the
displayed image, |yaw|, |pitch|, |roll| < 30 degrees, FaceQuality >= 0.8. A face without a head pose cannot seed."""


def can_seed(short_side_px: float, yaw: float | None, pitch: float | None, roll: float, quality: float) -> bool:
    """Whether a face meets IMM v2's seeding rule (constants above)."""
    if yaw is None or pitch is None:
        return False
    angles_ok = all(abs(a) < SEED_MAX_ANGLE for a in (yaw, pitch, roll))
    return short_side_px >= SEED_MIN_PX and angles_ok and quality >= SEED_MIN_QUALITY


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


class FaceAnalyzer:
    """The local face engine. Build it with :meth:`load`; :meth:`analyze` is thread-safe (onnxruntime sessions are)."""

    def __init__(
        self,
        nets: dict[str, Net],
        *,
        min_face_px: int,
        score_threshold: float,
        max_pixels: int,
        augmentation: Augmentation = DEFAULT_AUGMENTATION,
        calibration: Calibration | None = None,
        embeddings: bool = True,
    ) -> None:
        self.calibration = calibration or load_calibration()
        self.embeddings = embeddings
        """Write ``Embedding`` for identifiable faces; off runs SFace (the slowest net, about 10 ms a face) only for the
        face check of doubtful detections."""
        self.version = (
            f"{__version__}+engine.{ENGINE_REVISION}.models.{manifest_digest()}+calib.{self.calibration.digest}"
            + ("" if embeddings else "+noembed")  # results without embeddings are stale once they are switched on
        )
        self.min_face_px = min_face_px
        self.score_threshold = score_threshold
        self.max_pixels = max_pixels
        self._detector = Detector(YuNet(nets["detector"], score_threshold))
        self._attributes = AttributeModels(nets, augmentation)
        self.check_faces = True
        """Second check of every detection against animals and objects (``_checked``); off only to measure it."""
        self.rotations = False
        """Try the photo turned by +-45 degrees when the upright passes find no face (``detect.ROTATED_ANGLES``). Off:
        on photos without people they cost 60-78 % more time (limit 20 %) and found 1 more of 50 turned portraits than
        the levelled second look alone (``benchmarks/eval_engine.py --rotation``)."""

    @classmethod
    def load(
        cls,
        models_dir: Path | None = None,
        *,
        threads: int | None = None,
        min_face_px: int = DEFAULT_MIN_FACE_PX,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        augmentation: Augmentation = DEFAULT_AUGMENTATION,
        calibration: Calibration | None = None,
        embeddings: bool = True,
    ) -> FaceAnalyzer:
        """Verify the model files (ConfigError telling to run ``ossfaces models fetch`` if not), build and warm up
        one onnxruntime session per network, in parallel (:mod:`~ossfaces.vision.nets`), each with ``threads``
        threads (0 or None: the CPUs the instance has, :func:`~ossfaces.vision.nets.cpu_budget`)."""
        keep_large_blocks_mapped()  # before the first large block: see ossfaces/heap.py
        threads = threads or cpu_budget()
        cv2.setNumThreads(threads)  # its resizes and warps: FC's host may show more CPUs than the instance has
        warm = {"detector": (1, 3, 480, COARSE_SIDE), **{role: (1, *shape) for role, shape in NET_INPUTS.items()}}
        # Longest first (SFace, YuNet, age, then the small ones), so the two workers finish together.
        roles = ["embedding", "detector", "age", "gender", "emotion"]
        with ThreadPoolExecutor(LOAD_WORKERS) as pool:
            paths = verify_models(models_dir, pool)
            built = load_all([functools.partial(Net, paths[role], threads, warm[role]) for role in roles], pool)
        return cls(
            dict(zip(roles, built, strict=True)),
            min_face_px=min_face_px,
            score_threshold=score_threshold,
            max_pixels=max_pixels,
            augmentation=augmentation,
            calibration=calibration,
            embeddings=embeddings,
        )

    @within_memory_budget  # the analyses one process runs at once share one memory budget
    def analyze(self, data: bytes) -> Analysis:
        """Decode, detect, describe. Raises ``ImageError`` (a ``BadImage``) for anything that is not a usable image."""
        decoded = decode(data, max_pixels=self.max_pixels, work_side=WORK_SIDE)
        bgr, info = decoded.bgr, decoded.info
        sx, sy = decoded.scale_x, decoded.scale_y
        min_face = self.min_face_px / max(sx, sy)
        dets = self._detector.detect(bgr, min_face, rotations=self.rotations)
        crops = [aligned(bgr, d) for d in dets]
        features = self._attributes.identity_features(dets, crops) if self.embeddings else {}
        if self.check_faces:
            kept = self._checked(bgr, dets, crops, features)
            dets, crops = [dets[i] for i in kept], [crops[i] for i in kept]
            features = {new: features[old] for new, old in enumerate(kept) if old in features}
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        attrs = self._attributes.run(bgr, gray, dets, float(max(bgr.shape[:2])), faces=crops, features=features)
        content = hashlib.sha256(data).hexdigest()
        faces = []
        for det, attr in zip(dets, attrs, strict=True):
            face = self._face_dict(det, attr, content, sx, sy, info)
            if face is not None:
                faces.append((face, attr.embedding))
        return Analysis(info, [f for f, _ in faces], [e for _, e in faces])

    def _checked(
        self, bgr: NDArray[Any], dets: list[Detection], faces: list[Aligned], features: dict[int, NDArray[Any]]
    ) -> list[int]:
        """Indexes of the detections that are faces: a detection goes when its raw SFace feature is short
        (``CHECK_MIN_NORM``) *and* YuNet does not see it again at another framing (``Detector.second_look`` below
        ``CHECK_SCORE``). The features the embeddings need anyway (``features``, by index) are reused, so a face with
        a long one costs nothing more; SFace runs here only for the others that the second look did not confirm."""
        norms = {i: float(np.linalg.norm(f)) for i, f in features.items()}
        doubtful = [i for i in range(len(dets)) if norms.get(i, 0.0) < CHECK_MIN_NORM]
        unconfirmed = [i for i in doubtful if self._detector.second_look(bgr, dets[i]) < CHECK_SCORE]
        unknown = [i for i in unconfirmed if i not in norms]
        norms.update(zip(unknown, self._attributes.feature_norms([faces[i] for i in unknown]), strict=True))
        return [i for i in range(len(dets)) if not (i in unconfirmed and norms[i] < CHECK_MIN_NORM)]

    def _face_dict(
        self, det: Detection, attr: FaceAttributes, content: str, sx: float, sy: float, info: ImageInfo
    ) -> dict[str, Any] | None:
        """One IMM v1 face. Only fields backed by a model or a documented formula; see ``attributes`` for each."""
        x, y, w, h = det.box
        left = max(0, math.floor(x * sx))
        top = max(0, math.floor(y * sy))
        right = min(info.width, math.ceil((x + w) * sx))
        bottom = min(info.height, math.ceil((y + h) * sy))
        if right <= left or bottom <= top:
            return None
        boundary = {"Left": left, "Top": top, "Width": right - left, "Height": bottom - top}
        face_id = hashlib.sha256(f"{content}:{left},{top},{right - left},{bottom - top}".encode()).hexdigest()
        short_side = min(w * sx, h * sy)
        attributes: dict[str, Any] = {"FaceBoundary": boundary}
        if attr.yaw is not None and attr.pitch is not None:
            attributes["HeadPose"] = {"Pitch": _r(attr.pitch, 2), "Roll": _r(attr.roll, 2), "Yaw": _r(attr.yaw, 2)}
        quality = _r(face_quality(det.score, short_side, attr.yaw, attr.pitch, attr.sharpness))
        face: dict[str, Any] = {
            "FaceId": face_id,
            "FaceConfidence": _r(det.score),
            # Age, AgeSD, Gender (when not abstaining), Emotion…: the shipped calibration (vision/calibration.py)
            **self.calibration.face_fields(
                attr.age_probs, attr.gender, attr.gender_confidence, attr.emotions, attr.embedding
            ),
            "FaceQuality": quality,
            "FaceAttributes": attributes,
            "Landmarks": [{"X": _r(px * sx, 1), "Y": _r(py * sy, 1)} for px, py in det.landmarks],
            "Sharpness": _r(attr.sharpness),
        }
        if attr.embedding is not None:
            seed = can_seed(min(boundary["Width"], boundary["Height"]), attr.yaw, attr.pitch, attr.roll, quality)
            face["Embedding"] = embedding_field(attr.embedding, can_seed=seed)
        return face
