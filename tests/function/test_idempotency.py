"""Simultaneous duplicates and dead claims: the claim object beside the result, through the real handler and oss2."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import oss2
import pytest

from ossfaces.errors import TransientError
from ossfaces.idempotency import CLAIM_SUFFIX, META_CLAIM_REQUEST, META_EXPIRES, META_SOURCE_ETAG

from .handler_support import Context, Handler, ImmStandIn, event_for, raising

PHOTO = b"\xff\xd8\xff\xe0 stand-in photo \xff\xd9"
CLAIM = "a.jpg.faces.json" + CLAIM_SUFFIX


def held(imm: ImmStandIn) -> threading.Event:
    """IMM answers only once the test sets the returned event: the analysis lasts exactly as long as the test needs."""
    answer, release = imm.answer, threading.Event()

    def when_released(request: Any) -> tuple[int, str, bytes]:
        assert release.wait(30), "the test never released IMM"
        return answer(request)

    imm.answer = when_released
    return release


def test_twenty_simultaneous_deliveries_cost_one_imm_call(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    release = held(imm)  # IMM answers once every duplicate has arrived while the first is still being analysed
    oss_bucket.put_object("a.jpg", PHOTO)
    event = event_for(oss_bucket, "a.jpg")

    def deliver(_: int) -> str:
        try:
            return "processed" if handler(event, context)["processed"] else "skipped"
        except TransientError as exc:
            assert exc.code == "InProgress"
            return "retry"

    with ThreadPoolExecutor(20) as pool:
        deliveries = [pool.submit(deliver, n) for n in range(20)]
        for returned, _ in enumerate(as_completed(deliveries, timeout=60), 1):
            if returned == 19:  # all but the one inside IMM
                release.set()
        first = [delivery.result() for delivery in deliveries]
    assert first.count("processed") == 1 and len(imm.calls) == 1
    assert first.count("retry") == 19  # the simultaneous ones were told to come back
    retried = [deliver(0) for outcome in first if outcome == "retry"]  # FC's retries, after the work is done
    assert set(retried) == {"skipped"} and len(imm.calls) == 1
    assert not oss_bucket.object_exists(CLAIM)


def test_a_live_claim_sends_the_delivery_back_to_fc(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    etag = oss_bucket.head_object("a.jpg").etag
    oss_bucket.put_object(CLAIM, b"", headers={META_SOURCE_ETAG: etag, META_EXPIRES: str(int(time.time()) + 300)})
    with pytest.raises(TransientError, match="another invocation"):
        handler(event_for(oss_bucket, "a.jpg"), context)
    assert imm.calls == [] and oss_bucket.object_exists(CLAIM)  # someone else's claim is left alone


def test_a_dead_claim_expires_and_is_taken_over(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    oss_bucket.put_object("a.jpg", PHOTO)
    oss_bucket.put_object(CLAIM, b"", headers={META_EXPIRES: str(int(time.time()) - 1)})  # its instance died
    assert handler(event_for(oss_bucket, "a.jpg"), context)["processed"] == 1
    assert len(imm.calls) == 1 and not oss_bucket.object_exists(CLAIM)


def test_the_claim_names_the_invocation_that_holds_it(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    """The local stack releases, after its own kill -9, exactly the claims of the invocations that the crash killed."""
    release = held(imm)  # the invocation holds its claim until the test has read it
    oss_bucket.put_object("a.jpg", PHOTO)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(handler, event_for(oss_bucket, "a.jpg"), context)
        deadline = time.monotonic() + 30
        while not imm.calls and time.monotonic() < deadline:  # in IMM: the claim is made
            time.sleep(0.01)
        holder = oss_bucket.head_object(CLAIM).headers[META_CLAIM_REQUEST]
        release.set()
        assert running.result(30)["processed"] == 1
    assert holder == context.request_id


def test_the_claim_is_released_when_the_invocation_fails(
    oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    imm.answer = raising(503, "ServiceUnavailable", "busy")
    oss_bucket.put_object("a.jpg", PHOTO)
    with pytest.raises(TransientError):
        handler(event_for(oss_bucket, "a.jpg"), context)
    assert not oss_bucket.object_exists(CLAIM)  # FC's retry is not blocked by our own claim


def test_lease_follows_the_function_timeout() -> None:
    from ossfaces.invocation import lease_of

    assert lease_of(Context.__new__(Context)) == 600.0  # no function meta: a safe default
    context = Context.__new__(Context)
    context.function = type("Meta", (), {"timeout": 120})()
    assert lease_of(context) == 150.0
