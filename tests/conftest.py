"""Shared fixtures for the whole test suite.

- ``local_oss``: a fresh local OSS server (``ossfaces_localstack.oss.LocalOss``) on a free loopback port, with its
  data in the test's tmp dir and one bucket, ``test-bucket``; stopped after the test.
- ``oss_bucket``: an ``oss2.Bucket`` for ``test-bucket`` on that server, signed with V1 and the server's default keys.

Add new shared fixtures below with a one-line comment on what they give.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from ossfaces_localstack.oss import LocalOss

TEST_BUCKET = "test-bucket"


@pytest.fixture
def local_oss(tmp_path: Path) -> Iterator[LocalOss]:
    """A running local OSS with bucket ``test-bucket``; its data lives in ``tmp_path / "oss"``."""
    with LocalOss(tmp_path / "oss", buckets=[TEST_BUCKET]) as server:
        yield server


@pytest.fixture
def oss_bucket(local_oss: LocalOss) -> oss2.Bucket:
    """``oss2.Bucket`` on ``test-bucket`` of ``local_oss`` (V1 signatures, default key pair)."""
    return oss2.Bucket(oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint, TEST_BUCKET)
