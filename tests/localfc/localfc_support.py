"""Helpers of the local FC tests (importable by name, like the other suites' *_support modules).

- ``ScriptedRunner``: records every event it runs; an event whose JSON has ``"fail": k`` fails its first k runs.
- ``make_context``: an FC context with fixed credentials, for tests without a local OSS.
- ``FAKE_INDEX``: an ``index.py`` whose handler echoes what it was given (or raises).
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections import Counter

from ossfaces_localstack.fc.context import Credentials, FCContext, FunctionMeta, ServiceMeta
from ossfaces_localstack.fc.runner import Mode, RunResult
from ossfaces_localstack.fc.triggers import FunctionSpec


class ScriptedRunner:
    """A runner that fails on request: ``{"n": 1, "fail": 2}`` fails twice, then succeeds. With a ``gate``, every run
    waits until the test sets it: the function is busy for exactly as long as the test needs."""

    mode: Mode = "inprocess"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.runs: list[tuple[bytes, str, float]] = []  # (event, request id, monotonic start)
        self.failures: Counter[bytes] = Counter()
        self.lock = threading.Lock()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def run(self, event: bytes, context: FCContext) -> RunResult:
        with self.lock:
            self.runs.append((event, context.request_id, time.monotonic()))
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        wanted = int(json.loads(event).get("fail", 0))
        with self.lock:
            if self.failures[event] < wanted:
                self.failures[event] += 1
                return RunResult(False, b'{"errorMessage":"scripted"}', {"errorMessage": "scripted"},
                                 "UnhandledInvocationError", "scripted failure", duration_ms=1.0)  # fmt: skip
        return RunResult(True, event, json.loads(event), duration_ms=1.0)

    def numbers(self) -> list[int]:
        return [int(json.loads(event)["n"]) for event, _, _ in self.runs]


def make_context(function: FunctionSpec, request_id: str) -> FCContext:
    """An FC context with fixed local credentials (for tests that need no local OSS)."""
    return FCContext(
        request_id=request_id,
        credentials=Credentials("STS.test", "secret", "token"),
        function=FunctionMeta(function.name, function.handler, function.memory, function.timeout),
        service=ServiceMeta(function.service or function.name),
        region="cn-hangzhou",
        account_id="1234567890123456",
    )


FAKE_INDEX = textwrap.dedent(
    '''
    """A stand-in function: echoes the event and context, or raises when the event asks it to."""
    import json
    import logging
    import os

    log = logging.getLogger("fake-function")
    INITIALIZED = []


    def initializer(context):
        INITIALIZED.append(context.request_id)


    def handler(event, context):
        evt = json.loads(event)
        log.warning("fake handler got n=%s", evt.get("n"))
        if evt.get("raise"):
            raise ValueError("asked to fail")
        return {
            "n": evt.get("n"),
            "request_id": context.request_id,
            "access_key_id": context.credentials.access_key_id,
            "function": context.function.name,
            "region": context.region,
            "env": os.environ.get("FAKE_VAR"),
            "models": os.environ.get("FAKE_MODELS"),
            "initialized": len(INITIALIZED),
        }
    '''
)
