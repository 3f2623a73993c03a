"""Nothing the local OSS acknowledges is lost on the way to the function: not at start-up, not across a crash.

Real parts: the local stack with the real function (engine ``imm``, answered by a stand-in detector that finds no
face, so the run is fast), uploads with oss2 over HTTP.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import oss2
import pytest
from crash_support import kill9_stack_round

from ossfaces_localstack.fc.invoker import DeliveryPolicy
from ossfaces_localstack.fc.runner import InProcessRunner
from ossfaces_localstack.fc.triggers import CREATED_EVENTS, FunctionSpec, Trigger
from ossfaces_localstack.oss import ProcessError, ProcessRequest, ProcessResult
from ossfaces_localstack.oss.process import free_port
from ossfaces_localstack.stack import LocalStack

BUCKET = "race"


def no_faces(data: bytes) -> list[dict[str, Any]]:
    return []


def _stack(tmp_path: Path, port: int | None = None, **kwargs: Any) -> LocalStack:
    function = FunctionSpec(name="faces", initializer="index.initializer", timeout=5, max_async_retry_attempts=1,
                            environment={"OSSFACES_RESULT_SUFFIX": ".faces.json"})  # fmt: skip
    trigger = Trigger("photos-jpg", function, BUCKET, CREATED_EVENTS, suffix=".jpg")
    return LocalStack(
        tmp_path / "data", triggers=[trigger], oss_port=port or 0, fc_port=None, detector=no_faces, fsync=False,
        policy=DeliveryPolicy(backoff_scale=0.01), **kwargs,
    )  # fmt: skip


def _bucket(stack: LocalStack) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, BUCKET)


def test_uploads_from_the_first_instant_the_port_accepts_all_get_a_result(
    tmp_path: Path, face_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The function side takes as long to come up as a fresh `ossfaces up` does (imports, App, runtime): the window in
    # which the local OSS used to accept uploads with no one to deliver them.
    started = InProcessRunner.start

    def slow_start(self: InProcessRunner) -> None:
        time.sleep(0.6)
        started(self)

    monkeypatch.setattr(InProcessRunner, "start", slow_start)
    port = free_port()
    stack = _stack(tmp_path, port)
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


@pytest.mark.slow
def test_kill9_at_any_moment_every_acknowledged_photo_gets_one_result(tmp_path: Path) -> None:
    """The stack (OSS, trigger, real function) in a child process; kill -9 a third of the way through 40 uploads while
    deliveries are queued and running; after the restart every stored photo gets its result, and none a second one."""
    outcome = kill9_stack_round(tmp_path / "data", uploads=40, settle_s=20)
    print(f"acknowledged {len(outcome.acknowledged)}, stored {len(outcome.stored)}, "
          f"without result {len(outcome.without_result)}, written twice {outcome.written_twice}")  # fmt: skip
    assert outcome.acknowledged and set(outcome.acknowledged) <= set(outcome.stored)
    assert outcome.without_result == []
    assert outcome.written_twice == []
    assert set(outcome.results_written) == set(outcome.stored)


def test_a_delivery_is_pending_until_the_function_ran_it(tmp_path: Path, face_jpeg: bytes) -> None:
    with _stack(tmp_path) as stack:
        bucket = _bucket(stack)
        stack.invoker.stop()  # type: ignore[union-attr]  # nothing runs: what is acknowledged must still be pending
        bucket.put_object("photos/a.jpg", face_jpeg)
        bucket.put_object("photos/a.txt", b"no trigger matches: nothing pending")
        (pending,) = stack.pending_deliveries()
        assert pending.source == "trigger:photos-jpg" and b"photos/a.jpg" in pending.payload
    with _stack(tmp_path) as stack:  # a plain restart delivers it, with its request id
        assert stack.wait_idle(30)
        (invocation,) = stack.invocations()
        assert (invocation.outcome, invocation.request_id) == ("succeeded", pending.request_id)
        assert _bucket(stack).object_exists("photos/a.jpg.faces.json")
        assert stack.pending_deliveries() == [] and stack.failed_deliveries() == []


def test_a_delivery_whose_retries_run_out_is_kept_as_failed(tmp_path: Path, face_jpeg: bytes) -> None:
    def busy(request: ProcessRequest) -> ProcessResult:
        raise ProcessError(503, "ServiceUnavailable", "IMM is busy, try again")

    with _stack(tmp_path) as stack:
        stack.oss.set_processor("imm/detectface", busy)
        _bucket(stack).put_object("photos/a.jpg", face_jpeg)
        assert stack.wait_idle(30)
        (invocation,) = stack.invocations()
        assert (invocation.outcome, invocation.attempts) == ("failed", 2)
        (failed,) = stack.failed_deliveries()
        assert failed.request_id == invocation.request_id and "failed after 2 attempt(s)" in failed.error
        assert "ServiceUnavailable" in failed.error and stack.pending_deliveries() == []
    with _stack(tmp_path) as stack:  # not replayed: it is FC's OnFailure destination, not a queue
        assert stack.wait_idle(5) and stack.invocations() == []
        assert len(stack.failed_deliveries()) == 1
