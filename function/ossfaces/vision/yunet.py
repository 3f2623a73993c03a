"""YuNet on onnxruntime: the input padding, the decoding of its twelve outputs and the non-maximum suppression that
``cv2.FaceDetectorYN`` does around the same network, in numpy.

The network (``face_detection_yunet_2023mar``) predicts, on three grids of strides 8, 16 and 32 over the image padded
to a multiple of 32, a class and an objectness score, a box (centre offset and log size, in strides) and five
landmarks (offsets, in strides) per cell. A face's score is ``sqrt(cls * obj)`` (both clamped to 0-1). Faces that
pass the score threshold go through greedy NMS on their boxes rounded to integers, best score first, as OpenCV's
``NMSBoxes`` on ``Rect2i`` does. ``tests/vision/test_onnxruntime.py`` holds the result equal to ``FaceDetectorYN``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ossfaces.vision.nets import Net

STRIDES = (8, 16, 32)
DIVISOR = 32
NMS_IOU = 0.3
TOP_K = 5000


def padded(bgr: NDArray[Any]) -> NDArray[Any]:
    """The network's input: ``bgr`` (uint8, HxWx3) as a 1x3xHpxWp float32 blob, zero-padded on the bottom and right
    to multiples of 32."""
    h, w = bgr.shape[:2]
    ph, pw = -(-h // DIVISOR) * DIVISOR, -(-w // DIVISOR) * DIVISOR
    blob = np.zeros((1, 3, ph, pw), np.float32)
    blob[0, :, :h, :w] = bgr.transpose(2, 0, 1)
    return blob


def decode(outputs: list[NDArray[Any]], height: int, width: int, score_threshold: float) -> NDArray[Any]:
    """Rows of ``FaceDetectorYN``'s shape (x, y, w, h, five landmark x/y pairs, score), float32, of every cell whose
    score reaches ``score_threshold``, before NMS. ``height`` and ``width`` are the padded input's."""
    n = len(STRIDES)
    rows = []
    for i, stride in enumerate(STRIDES):
        cols = width // stride
        cls, obj = outputs[i].reshape(-1), outputs[i + n].reshape(-1)
        score = np.sqrt(np.clip(cls, 0.0, 1.0) * np.clip(obj, 0.0, 1.0))
        keep = np.flatnonzero(score >= score_threshold)
        if keep.size == 0:
            continue
        bbox = outputs[i + 2 * n].reshape(-1, 4)[keep]
        kps = outputs[i + 3 * n].reshape(-1, 10)[keep]
        grid = np.stack([keep % cols, keep // cols], axis=1).astype(np.float32)
        s = np.float32(stride)
        centre = (grid + bbox[:, :2]) * s
        size = np.exp(bbox[:, 2:]) * s
        points = (kps.reshape(-1, 5, 2) + grid[:, None, :]) * s
        rows.append(
            np.concatenate(
                [centre - size / 2, size, points.reshape(-1, 10), score[keep, None]], axis=1, dtype=np.float32
            )
        )
    return np.concatenate(rows) if rows else np.zeros((0, 15), np.float32)


def nms(boxes: NDArray[Any], scores: NDArray[Any], iou: float, top_k: int = 0) -> NDArray[Any]:
    """Indexes kept by greedy non-maximum suppression, best score first (ties: the earlier index), as OpenCV's
    ``NMSBoxes``: a box goes when its IoU with a kept one exceeds ``iou``. Boxes (x, y, w, h); area ``w * h``."""
    order = np.argsort(-scores, kind="stable")
    if top_k > 0:
        order = order[:top_k]
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    kept: list[int] = []
    while order.size:
        i = int(order[0])
        kept.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        union = area[i] + area[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(kept, dtype=np.intp)


class YuNet:
    """The detector network and its decoding; safe to call from many threads (one onnxruntime session)."""

    def __init__(self, net: Net, score_threshold: float) -> None:
        self.net = net
        self.score_threshold = score_threshold

    def detect(self, bgr: NDArray[Any]) -> NDArray[Any]:
        """(n, 15) faces in ``bgr``'s pixels, as ``FaceDetectorYN.detect`` returns them (after its NMS)."""
        blob = padded(bgr)
        faces = decode(self.net.run_all(blob), blob.shape[2], blob.shape[3], self.score_threshold)
        if len(faces) > 1:
            faces = faces[faces[:, 14] > self.score_threshold]  # NMSBoxes keeps scores above its threshold only
            keep = nms(np.trunc(faces[:, :4]).astype(np.float64), faces[:, 14].astype(np.float64), NMS_IOU, TOP_K)
            faces = faces[keep]
        return faces
