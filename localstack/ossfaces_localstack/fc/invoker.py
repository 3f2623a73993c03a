"""FC's asynchronous invocation, locally: a queue and a worker pool, at-least-once delivery, retries with backoff.

OSS triggers and ``x-fc-invocation-type: Async`` calls both land here, so both get FC's semantics: the caller never
waits for the function; a failed invocation (the handler raised) is retried ``maxAsyncRetryAttempts`` times (default
3) with a growing delay (research §2.6). Switches emulate what FC does not promise (research oss-wire §6): duplicate
deliveries, late deliveries, and deliveries out of order, so idempotency can be tested.

Every invocation is kept in memory (event, attempts, outcome, duration, error, logs) for tests, ``wait_idle`` and the
CLI, and logged with its outcome and duration.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from ossfaces_localstack.fc.context import FCContext
from ossfaces_localstack.fc.runner import Runner, RunResult
from ossfaces_localstack.fc.triggers import FunctionSpec

log = logging.getLogger("ossfaces_localstack.fc")

Outcome = Literal["queued", "running", "retrying", "succeeded", "failed"]
ContextFactory = Callable[[FunctionSpec, str], FCContext]

RETRY_BASE_S = 1.0  # first retry delay before scaling; doubles per attempt
RETRY_MAX_S = 60.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How faithfully (or unfaithfully) events are delivered. The defaults behave like FC on a good day."""

    duplicates: int = 1  # deliver each event this many times (FC: at least once)
    delay_s: float = 0.0  # hold each delivery this long before it may run
    reorder_window_s: float = 0.0  # > 0: collect deliveries for this long, then release each batch newest first
    backoff_scale: float = 1.0  # multiplies the retry delays; tests use a small scale to stay fast

    def retry_delay(self, attempt: int) -> float:
        """Delay before attempt ``attempt + 1`` after ``attempt`` failed ones: 1 s, 2 s, 4 s … (scaled)."""
        return float(min(RETRY_BASE_S * 2.0 ** (attempt - 1), RETRY_MAX_S) * self.backoff_scale)


@dataclass
class Invocation:
    """One delivery of one event to one function, across its attempts."""

    request_id: str
    function: FunctionSpec
    event: bytes
    source: str  # "trigger:<name>", "api", "invoke" …
    max_attempts: int
    copy: int = 0  # 0 for the first delivery, 1… for duplicates
    attempts: int = 0
    outcome: Outcome = "queued"
    duration_ms: float = 0.0  # of the last attempt
    error: str = ""
    result: RunResult | None = None
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # first attempt
    finished_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    on_done: Callable[[Invocation], None] | None = field(default=None, repr=False)  # once finished, either way

    @property
    def finished(self) -> bool:
        return self.outcome in ("succeeded", "failed")


class Invoker:
    """The local async-invocation service: ``submit`` returns at once, workers run the function, failures retry."""

    def __init__(
        self,
        runners: Mapping[str, Runner],
        context_factory: ContextFactory,
        *,
        policy: DeliveryPolicy | None = None,
        workers: int = 4,
    ) -> None:
        self.runners = dict(runners)
        self.context_factory = context_factory
        self.policy = policy or DeliveryPolicy()
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fc-worker")
        self._heap: list[tuple[float, int, int, Invocation]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._records: list[Invocation] = []
        self._pending = 0
        self._window_end = 0.0
        self._stopped = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="fc-dispatcher", daemon=True)
        self._dispatcher.start()

    # --- submitting ----------------------------------------------------------------------------------------------

    def submit(
        self, function: FunctionSpec, event: bytes, *, source: str, request_id: str | None = None,
        on_done: Callable[[Invocation], None] | None = None,
    ) -> list[Invocation]:  # fmt: skip
        """Queue ``event`` for ``function`` (``policy.duplicates`` deliveries); returns without waiting for any of them.

        ``on_done`` is called once the first delivery has finished (succeeded, or failed after its retries), from the
        worker thread; not if the invoker stops first (the event is then still pending, and a durable caller replays it).
        """
        self._runner(function)
        deliveries = []
        with self._cond:
            if self._stopped:
                raise RuntimeError("the invoker is stopped")
            now = time.monotonic()
            for copy in range(max(1, self.policy.duplicates)):
                rid = request_id if (request_id and copy == 0) else new_request_id()
                invocation = Invocation(
                    rid, function, event, source, max_attempts=1 + max(0, function.max_async_retry_attempts),
                    copy=copy, on_done=on_done if copy == 0 else None,
                )  # fmt: skip
                self._records.append(invocation)
                self._pending += 1
                seq = next(self._seq)
                due = now + self.policy.delay_s
                order = seq
                if self.policy.reorder_window_s > 0:
                    if now >= self._window_end:
                        self._window_end = now + self.policy.reorder_window_s
                    due, order = max(due, self._window_end), -seq  # the whole window at once, newest first
                heapq.heappush(self._heap, (due, order, seq, invocation))
                deliveries.append(invocation)
            self._cond.notify_all()
        return deliveries

    def invoke_sync(
        self, function: FunctionSpec, event: bytes, *, source: str, request_id: str | None = None
    ) -> Invocation:
        """Run once on the caller's thread (FC's Sync invocation: no retries), recorded like the others."""
        invocation = Invocation(request_id or new_request_id(), function, event, source, max_attempts=1)
        with self._cond:
            self._records.append(invocation)
            self._pending += 1
        self._attempt(invocation)
        return invocation

    # --- observing -----------------------------------------------------------------------------------------------

    def invocations(self, function: str | None = None) -> list[Invocation]:
        """Every invocation so far, oldest first (optionally only those of ``function``, by name)."""
        with self._cond:
            return [
                i for i in self._records if function is None or function in (i.function.name, i.function.qualified_name)
            ]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued, running or waiting to retry; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self) -> None:
        """Stop taking work; queued deliveries are dropped, running ones finish."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        self._dispatcher.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- running -------------------------------------------------------------------------------------------------

    def _runner(self, function: FunctionSpec) -> Runner:
        runner = self.runners.get(function.qualified_name) or self.runners.get(function.name)
        if runner is None:
            raise KeyError(f"no runner for function {function.qualified_name!r}")
        return runner

    def _dispatch(self) -> None:
        with self._cond:
            while not self._stopped:
                if not self._heap:
                    self._cond.wait()
                    continue
                due = self._heap[0][0]
                now = time.monotonic()
                if due > now:
                    self._cond.wait(due - now)
                    continue
                invocation = heapq.heappop(self._heap)[3]
                self._executor.submit(self._attempt, invocation)

    def _attempt(self, invocation: Invocation) -> None:
        with self._cond:
            invocation.attempts += 1
            invocation.outcome = "running"
            if invocation.started_at is None:
                invocation.started_at = time.monotonic()
        function = invocation.function
        try:
            context = self.context_factory(function, invocation.request_id)
            result = self._runner(function).run(invocation.event, context)
        except Exception as exc:  # the platform itself failed (credentials, runtime start): FC retries those too
            result = RunResult(False, b"", None, "LocalPlatformError", f"{type(exc).__name__}: {exc}")
        attempt = f"attempt {invocation.attempts}/{invocation.max_attempts}"
        with self._cond:
            invocation.result = result
            invocation.duration_ms = result.duration_ms
            invocation.error = "" if result.ok else result.error_message or result.error_type
            retry = not result.ok and invocation.attempts < invocation.max_attempts
            if result.ok:
                invocation.outcome = "succeeded"
            elif retry:
                invocation.outcome = "retrying"  # when stopped: left so, its retries are the next start's (replay)
                if not self._stopped:
                    delay = self.policy.retry_delay(invocation.attempts)
                    heapq.heappush(self._heap, (time.monotonic() + delay, 0, next(self._seq), invocation))
            else:
                invocation.outcome = "failed"
            self._cond.notify_all()
        level = logging.INFO if result.ok else logging.WARNING
        log.log(
            level,
            "invocation %s of %s (%s) %s: %s in %.0f ms%s",
            invocation.request_id,
            function.qualified_name,
            invocation.source,
            attempt,
            "succeeded" if result.ok else ("failed, will retry" if retry else "failed"),
            result.duration_ms,
            "" if result.ok else f": {invocation.error}",
        )
        if invocation.finished:
            if invocation.on_done is not None:  # before it counts as done: wait_idle then sees its consequences
                try:
                    invocation.on_done(invocation)
                except Exception:
                    log.exception("after invocation %s: the completion callback failed", invocation.request_id)
            with self._cond:
                invocation.finished_at = time.monotonic()
                self._pending -= 1
                invocation.done.set()
                self._cond.notify_all()


def new_request_id() -> str:
    """FC request ids are UUIDs."""
    return str(uuid.uuid4())
