"""Fixtures of the local IMM v2 tests; helpers live in localimm_support.

- ``detector``: the real local face engine (the one behind the local OSS's ``imm/detectface``), loaded once.
- ``local_imm``: the local IMM v2 endpoint beside ``local_oss`` (shared keys and storage), serving ``ossfaces-local``.
- ``face_jpeg``: a real photo with one face (scikit-image's astronaut), JPEG bytes.
- ``context``: FC's context for one invocation, with STS credentials issued by ``local_oss``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from ossfaces_localstack.detectface import FaceDetector, local_face_detector
from ossfaces_localstack.fc.context import Credentials, FCContext, FunctionMeta, ServiceMeta
from ossfaces_localstack.imm import LocalImm
from ossfaces_localstack.oss import LocalOss


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return local_face_detector()


@pytest.fixture
def local_imm(local_oss: LocalOss, detector: FaceDetector) -> Iterator[LocalImm]:
    with LocalImm(local_oss, detector) as imm:
        yield imm


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def context(local_oss: LocalOss) -> FCContext:
    return FCContext(
        request_id="test-request-imm2",
        credentials=Credentials(*local_oss.issue_sts(3600)),
        function=FunctionMeta("ossfaces", "index.handler", 1024, 120),
        service=ServiceMeta("ossfaces"),
        region=local_oss.region,
        account_id="1234567890123456",
    )
