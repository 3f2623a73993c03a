"""Handing photos over: asynchronous FC invocations through ``fc2`` (the scale-out path), or the same ``Pipeline`` on a
local pool; plus the rate limit and the event payloads, which are the OSS trigger's own shape.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ossfaces.events import OssRecord
from ossfaces.pipeline import Pipeline
from ossfaces_tools.backfill.listing import record_payload

ASYNC_PAYLOAD_LIMIT = 128 * 1024  # FC's limit on an asynchronous invocation's payload (research alicloud.md §6.1)


class Dispatcher(Protocol):
    """Sends a batch of records somewhere that will process them; raises when they were not accepted."""

    mode: str

    def dispatch(self, records: list[OssRecord]) -> None: ...


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts of ``burst``; thread-safe, blocking."""

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def acquire(self) -> None:
        wait = self.delay()
        if wait > 0:
            time.sleep(wait)


def event_payloads(records: list[OssRecord], limit: int = ASYNC_PAYLOAD_LIMIT) -> list[bytes]:
    """``{"events": [...]}`` payloads holding ``records`` in order, each at most ``limit`` bytes."""
    payloads: list[bytes] = []
    chunk: list[bytes] = []
    size = len(b'{"events":[]}')
    for record in records:
        encoded = json.dumps(record_payload(record), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if size + len(encoded) + 1 > limit and chunk:
            payloads.append(b'{"events":[' + b",".join(chunk) + b"]}")
            chunk, size = [], len(b'{"events":[]}')
        if size + len(encoded) > limit:
            raise ValueError(f"one record is {len(encoded)} bytes, over the {limit}-byte payload limit")
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        payloads.append(b'{"events":[' + b",".join(chunk) + b"]}")
    return payloads


class FcDispatcher:
    """Asynchronous invocations of the deployed function through ``fc2`` (FC 2.0 API), retried when FC says "later"."""

    mode = "fc"
    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        client: Any,
        service: str,
        function: str,
        qualifier: str | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.service = service
        self.function = function
        self.qualifier = qualifier
        self.attempts = attempts
        self.backoff = backoff
        self.invocations = 0
        self._lock = threading.Lock()

    def dispatch(self, records: list[OssRecord]) -> None:
        for payload in event_payloads(records):
            self.invoke(payload)

    def invoke(self, payload: bytes) -> None:
        """One asynchronous invocation with ``payload``, retried while FC answers "later"."""
        import fc2

        for attempt in range(self.attempts):
            try:
                self.client.invoke_function(
                    self.service,
                    self.function,
                    payload=payload,
                    headers={"x-fc-invocation-type": "Async"},
                    qualifier=self.qualifier,
                )
            except fc2.fc_exceptions.FcError as exc:
                if exc.status_code not in self.RETRY_STATUSES or attempt == self.attempts - 1:
                    raise DispatchError(f"FC refused the invocation: {exc.status_code} {exc.err_code}") from exc
            except (
                OSError,
                ValueError,
            ) as exc:  # requests' connection errors are OSErrors; a non-JSON error body a ValueError
                if attempt == self.attempts - 1:
                    raise DispatchError(f"FC unreachable: {type(exc).__name__}: {str(exc)[:200]}") from exc
            else:
                with self._lock:
                    self.invocations += 1
                return
            time.sleep(self.backoff * 2**attempt)


class LocalDispatcher:
    """The same ``Pipeline`` the function runs, in this process; a failure is what would have failed the invocation."""

    mode = "local"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.outcomes: dict[str, int] = {"processed": 0, "error-document": 0, "skipped": 0}
        self._lock = threading.Lock()

    def dispatch(self, records: list[OssRecord]) -> None:
        for record in records:
            outcome = self.pipeline.process(record, request_id="backfill")
            with self._lock:
                self.outcomes[outcome.action] += 1


class DispatchError(Exception):
    """The photo was not handed over; it stays in the checkpoint's failed list."""


def fc_client(endpoint: str, access_key_id: str, access_key_secret: str, security_token: str = "") -> Any:
    """An fc2 client; keyword arguments only (research §6.1)."""
    import fc2

    return fc2.Client(
        endpoint=endpoint,
        accessKeyID=access_key_id,
        accessKeySecret=access_key_secret,
        securityToken=security_token,
        Timeout=30,
    )
