"""Async delivery: never blocks the caller, retries failures with backoff, and the duplicate/delay/reorder switches."""

from __future__ import annotations

import itertools
import json
import threading
import time

from ossfaces_localstack.fc.invoker import DeliveryPolicy, Invoker
from ossfaces_localstack.fc.triggers import FunctionSpec

from .localfc_support import ScriptedRunner, make_context

FN = FunctionSpec("fn", "svc", max_async_retry_attempts=3)
FAST = 0.01  # backoff scale: 10 ms, 20 ms, 40 ms instead of 1 s, 2 s, 4 s


def _event(n: int, **extra: object) -> bytes:
    return json.dumps({"n": n, **extra}).encode()


def _invoker(runner: ScriptedRunner, **policy: float) -> Invoker:
    return Invoker({"svc/fn": runner}, make_context, policy=DeliveryPolicy(backoff_scale=FAST, **policy), workers=2)  # type: ignore[arg-type]


def test_submit_returns_before_the_function_runs() -> None:
    gate = threading.Event()
    invoker = _invoker(ScriptedRunner(gate))
    (invocation,) = invoker.submit(FN, _event(1), source="test")  # returns although the function cannot finish yet
    assert not invocation.finished
    gate.set()
    assert invoker.wait_idle(5)
    assert invocation.outcome == "succeeded" and invocation.attempts == 1
    assert invocation.result is not None and invocation.result.value == {"n": 1}
    invoker.stop()


def test_failures_are_retried_until_success() -> None:
    runner = ScriptedRunner()
    invoker = _invoker(runner)
    (invocation,) = invoker.submit(FN, _event(1, fail=2), source="test")
    assert invoker.wait_idle(5)
    assert (invocation.outcome, invocation.attempts, invocation.error) == ("succeeded", 3, "")
    # every attempt reuses the request id, and waits longer than the one before
    assert {rid for _, rid, _ in runner.runs} == {invocation.request_id}
    starts = [t for _, _, t in runner.runs]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.01 and gaps[1] >= 0.02
    invoker.stop()


def test_gives_up_after_max_async_retry_attempts() -> None:
    runner = ScriptedRunner()
    invoker = _invoker(runner)
    (invocation,) = invoker.submit(FunctionSpec("fn", "svc", max_async_retry_attempts=1), _event(1, fail=9), source="t")
    assert invoker.wait_idle(5)
    assert (invocation.outcome, invocation.attempts) == ("failed", 2)
    assert invocation.error == "scripted failure"
    assert len(runner.runs) == 2
    invoker.stop()


def test_duplicates_deliver_the_same_event_n_times() -> None:
    runner = ScriptedRunner()
    invoker = _invoker(runner, duplicates=3)
    deliveries = invoker.submit(FN, _event(7), source="test")
    assert invoker.wait_idle(5)
    assert [d.copy for d in deliveries] == [0, 1, 2]
    assert runner.numbers() == [7, 7, 7]
    assert len({d.request_id for d in deliveries}) == 3
    assert len(invoker.invocations()) == 3
    invoker.stop()


def test_delay_holds_each_delivery() -> None:
    runner = ScriptedRunner()
    invoker = _invoker(runner, delay_s=0.2)
    submitted = time.monotonic()
    invoker.submit(FN, _event(1), source="test")
    assert invoker.wait_idle(5)
    assert runner.runs[0][2] - submitted >= 0.2
    invoker.stop()


def test_reorder_releases_a_window_newest_first() -> None:
    runner = ScriptedRunner()
    invoker = Invoker({"svc/fn": runner}, make_context, policy=DeliveryPolicy(reorder_window_s=0.2), workers=1)
    for n in range(5):
        invoker.submit(FN, _event(n), source="test")
    assert invoker.wait_idle(5)
    assert runner.numbers() == [4, 3, 2, 1, 0]
    invoker.stop()


def test_in_order_without_switches() -> None:
    runner = ScriptedRunner()
    invoker = Invoker({"svc/fn": runner}, make_context, workers=1)
    for n in range(5):
        invoker.submit(FN, _event(n), source="test")
    assert invoker.wait_idle(5)
    assert runner.numbers() == [0, 1, 2, 3, 4]
    invoker.stop()


def test_wait_idle_times_out_while_busy() -> None:
    gate = threading.Event()
    invoker = _invoker(ScriptedRunner(gate))
    invoker.submit(FN, _event(1), source="test")
    assert invoker.wait_idle(0.05) is False
    gate.set()
    assert invoker.wait_idle(5) is True
    invoker.stop()


def test_sync_invocations_do_not_retry() -> None:
    runner = ScriptedRunner()
    invoker = _invoker(runner)
    invocation = invoker.invoke_sync(FN, _event(1, fail=1), source="api:sync")
    assert (invocation.outcome, invocation.attempts) == ("failed", 1)
    assert invoker.wait_idle(1)
    invoker.stop()
