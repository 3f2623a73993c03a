"""Nothing the local OSS acknowledges is lost on the way to the function: not at start-up, not across a crash.

Real parts: the local stack with the real function (engine ``imm``, answered by a stand-in detector that finds no
face, so the run is fast), uploads with oss2 over HTTP.
"""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import oss2
import pytest

from ossfaces.localstack.fc.invoker import DeliveryPolicy
from ossfaces.localstack.fc.triggers import CREATED_EVENTS, FunctionSpec, Trigger
from ossfaces.localstack.oss.process import free_port
from ossfaces.localstack.stack import LocalStack

BUCKET = "race"

# The real handler behind an import that takes as long as importing the function does in a fresh `ossfaces up`
# (pydantic, oss2, the pipeline): the window in which the local OSS used to accept uploads with no one to deliver them.
SLOW_INDEX = textwrap.dedent(
    """
    import time

    time.sleep(0.6)
    from ossfaces import invocation


    def initializer(context):
        invocation.initialize(context)


    def handler(event, context):
        return invocation.handle(event, context)
    """
)


def no_faces(data: bytes) -> list[dict[str, Any]]:
    return []


def _stack(tmp_path: Path, code: Path, port: int) -> LocalStack:
    function = FunctionSpec(name="faces", code_dir=code, initializer="index.initializer", timeout=5,
                            environment={"OSSFACES_RESULT_SUFFIX": ".faces.json"})  # fmt: skip
    trigger = Trigger("photos-jpg", function, BUCKET, CREATED_EVENTS, suffix=".jpg")
    return LocalStack(
        tmp_path / "data", triggers=[trigger], oss_port=port, fc_port=None, detector=no_faces, fsync=False,
        policy=DeliveryPolicy(backoff_scale=0.01),
    )  # fmt: skip


def test_uploads_from_the_first_instant_the_port_accepts_all_get_a_result(tmp_path: Path, face_jpeg: bytes) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "index.py").write_text(SLOW_INDEX, encoding="utf-8")
    port = free_port()
    stack = _stack(tmp_path, code, port)
    bucket = oss2.Bucket(oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret),
                         f"http://127.0.0.1:{port}", BUCKET, connect_timeout=5)  # fmt: skip
    acknowledged: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        first: float | None = None
        n = 0
        while not stop.is_set() and (first is None or time.monotonic() - first < 0.5):
            key = f"photos/{n:04d}.jpg"
            try:
                bucket.put_object(key, face_jpeg)
            except oss2.exceptions.RequestError:
                time.sleep(0.002)  # not listening yet: try again at once
                continue
            first = first or time.monotonic()
            acknowledged.append(key)
            n += 1

    client = threading.Thread(target=hammer)
    client.start()
    try:
        stack.start()
        client.join(30)
        assert acknowledged, "no upload was accepted"
        assert stack.wait_idle(60)
        missing = [k for k in acknowledged if not bucket.object_exists(k + ".faces.json")]
        assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged uploads got no result"
    finally:
        stop.set()
        client.join(5)
        stack.stop()


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
