"""Fixtures of the backfill / stats tests.

- ``stack``: the whole local stack (local OSS + the triggers of template.yml + the function in-process + FC's invoke
  API for fc2), with a fast deterministic ``imm/detectface`` (one face per photo) so the tests measure dispatching, not
  face models; its triggers are switched off so photos can be put in place "before" the function existed.
- ``put_photos(stack, keys)``: upload tiny photos through oss2 without firing the function.
- ``cli(args, env)``: run ``ossfaces`` in-process; returns click's Result (stdout and stderr apart).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
from click.testing import CliRunner, Result

from ossfaces.events import parse_event
from ossfaces_localstack.fc.invoker import DeliveryPolicy
from ossfaces_localstack.stack import LocalStack
from ossfaces_tools.commands import main

ROOT = Path(__file__).resolve().parents[2]


def one_face(data: bytes) -> list[dict[str, Any]]:
    """IMM v1 shape, one face whose age is the photo's size modulo 90 (so documents differ)."""
    boundary = {"Left": 1, "Top": 2, "Width": 30, "Height": 40}
    return [{"FaceId": "f", "FaceConfidence": 0.99, "Age": len(data) % 90, "Gender": "FEMALE",
             "Emotion": "HAPPY", "FaceAttributes": {"FaceBoundary": boundary}}]  # fmt: skip


def make_stack(tmp_path: Path, policy: DeliveryPolicy | None = None) -> LocalStack:
    stack = LocalStack(tmp_path / "stack", project_dir=ROOT, detector=one_face, fsync=False, policy=policy, workers=8)
    stack.start()
    stack.triggers = []  # photos already in the bucket: no trigger fired for them
    return stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    s = make_stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def bucket_of(stack: LocalStack) -> oss2.Bucket:
    oss = stack.oss
    return oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket)


def put_photos(stack: LocalStack, keys: list[str]) -> None:
    bucket = bucket_of(stack)
    for i, key in enumerate(keys):
        bucket.put_object(key, b"\xff\xd8photo" + str(i).encode() * 7)


def env_of(stack: LocalStack) -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": stack.oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": stack.oss.access_key_secret}  # fmt: skip


def backfill_args(stack: LocalStack, checkpoint: Path, *extra: str) -> list[str]:
    spec = stack.function()
    assert stack.api is not None
    return ["backfill", stack.bucket, "--region", stack.oss.region, "--oss-endpoint", stack.oss.endpoint,
            "--fc-endpoint", stack.api.endpoint, "--service", spec.service or spec.name, "--function", spec.name,
            "--checkpoint", str(checkpoint), "--no-progress", "--no-count", "--json", *extra]  # fmt: skip


def invoked_keys(stack: LocalStack) -> list[str]:
    """Every photo key sent through FC's invoke API, once per time it was sent."""
    return [record.key for inv in stack.invocations() if inv.source == "api:async" for record in parse_event(inv.event)]


def results(stack: LocalStack) -> set[str]:
    return {o.key for o in oss2.ObjectIteratorV2(bucket_of(stack)) if o.key.endswith(".faces.json")}


@pytest.fixture
def cli() -> Callable[..., Result]:
    def run(args: list[str], env: dict[str, str] | None = None) -> Result:
        return CliRunner(mix_stderr=False).invoke(main, args, env=env, catch_exceptions=False)

    return run


def summary_of(result: Result) -> dict[str, Any]:
    """The JSON summary backfill prints last on stdout."""
    value: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return value
