"""Running the function once: in this process (one ``invocation.App`` built from the function's environment), or through
``function/bootstrap`` as a subprocess speaking FC's custom-runtime HTTP protocol (``POST /invoke``, x-fc-* headers).

Both give the same ``RunResult``, shaped like FC's answer: the handler's return value, or FC's error body
``{"errorMessage", "errorType", "stackTrace"}`` with the error type ``UnhandledInvocationError``; plus the log lines.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import logging
import os
import select
import socket
import subprocess
import sys
import termios
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

import requests

import ossfaces
from ossfaces.invocation import App
from ossfaces_localstack.fc.context import FCContext
from ossfaces_localstack.fc.triggers import FunctionSpec
from ossfaces_localstack.oss.process import free_port

log = logging.getLogger("ossfaces_localstack.fc")

Mode = Literal["inprocess", "bootstrap"]
UNHANDLED = "UnhandledInvocationError"


def default_code_dir() -> Path:
    """``function/``: the code root deployed to FC, where ``index.py`` and ``bootstrap`` live."""
    return Path(ossfaces.__file__).resolve().parent.parent


@dataclass
class RunResult:
    """One execution of the handler, as FC reports it."""

    ok: bool
    body: bytes  # what FC returns to a Sync caller: the return value, JSON-encoded unless it was str/bytes
    value: Any = None  # the return value, or the error body, decoded
    error_type: str = ""  # "UnhandledInvocationError" when the handler raised
    error_message: str = ""
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


class Runner(Protocol):
    mode: Mode

    def start(self) -> None: ...

    def run(self, event: bytes, context: FCContext) -> RunResult: ...

    def stop(self) -> None: ...


# Variables that describe FC's machine, not the function: applied locally they would break this one.
FC_MACHINE_VARIABLES = frozenset({"PATH", "PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH"})
FC_CODE_ROOT = "/code"  # where FC mounts the code directory


def local_environment(function: FunctionSpec, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The function's environment variables as they must be here: FC's machine paths dropped, ``/code/…`` mapped to the
    local code directory (``OSSFACES_MODELS_DIR: /code/models`` → ``function/models``), then the stack's overrides."""
    code_dir = str(_code_dir(function))
    env: dict[str, str] = {}
    for name, value in function.environment.items():
        if name in FC_MACHINE_VARIABLES:
            continue
        if value == FC_CODE_ROOT or value.startswith(FC_CODE_ROOT + "/"):
            value = code_dir + value[len(FC_CODE_ROOT) :]
        env[name] = value
    return env | dict(overrides or {})


def encode_return(value: Any) -> bytes:
    """FC's Python runtime: bytes and str pass through; anything else is sent as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


def _log_line(request_id: str, level: str, message: str) -> str:
    """FC's log line layout: time, request id, level, message."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{now} {request_id} [{level}] {message}"


class _ThreadLogs(logging.Handler):
    """Collects the records emitted by one thread: an in-process invocation runs on a single worker thread."""

    def __init__(self, request_id: str) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.request_id = request_id
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(_log_line(self.request_id, record.levelname, record.getMessage()))


@contextlib.contextmanager
def _capture_logs(request_id: str) -> Iterator[list[str]]:
    handler = _ThreadLogs(request_id)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


class InProcessRunner:
    """Runs the function in this process, as one FC instance: one ``App`` (settings + engine) built from the function's
    declared environment (the template's variables plus the stack's overrides, such as the local OSS endpoint), or
    the ``app`` given; the initializer runs once before the first invocation, each invocation on a worker thread.

    Nothing is written to ``os.environ`` and no cache is cleared: the App is handed over, not found.
    """

    mode: Mode = "inprocess"

    def __init__(
        self, function: FunctionSpec, environment: Mapping[str, str] | None = None, *, app: App | None = None
    ) -> None:
        self.function = function
        self.environment = local_environment(function, environment)
        self.app = app
        self._initialized = False
        self._lock = threading.Lock()

    def start(self) -> None:
        if self.app is None:
            self.app = App.from_environ(self.environment)

    def stop(self) -> None:
        """Nothing to undo: the App lives and dies with this runner."""

    def run(self, event: bytes, context: FCContext) -> RunResult:
        app = self.app
        if app is None:
            raise RuntimeError("InProcessRunner.run before start")
        started = time.perf_counter()
        with _capture_logs(context.request_id) as lines:
            try:
                self._initialize(app, context)
                value = app.handle(event, context)
            except Exception as exc:
                error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:],
                }
                return RunResult(
                    ok=False,
                    body=encode_return(error),
                    value=error,
                    error_type=UNHANDLED,
                    error_message=f"{type(exc).__name__}: {exc}",
                    logs=list(lines),
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
        return RunResult(
            ok=True, body=encode_return(value), value=value, logs=list(lines),
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip

    def _initialize(self, app: App, context: FCContext) -> None:
        """FC runs the initializer once per instance, before its first invocation; a failure fails that invocation."""
        if self._initialized or not self.function.initializer:
            return
        with self._lock:
            if not self._initialized:
                app.initialize(context)
                self._initialized = True


def _code_dir(function: FunctionSpec) -> Path:
    code_dir = function.code_dir
    if code_dir is not None and (code_dir / "index.py").is_file():
        return code_dir
    return default_code_dir()


class BootstrapRunner:
    """Runs ``bootstrap`` from the code directory as FC's custom runtime does and talks to it over HTTP on loopback.

    Requests carry FC's common headers (research: FC "Custom runtime specification"); success is status 200 without
    ``x-fc-status: 404``. Its output is forwarded to the log and attributed to a request by FC's
    ``FC Invoke Start/End RequestId:`` markers.
    """

    mode: Mode = "bootstrap"

    def __init__(
        self, function: FunctionSpec, environment: Mapping[str, str] | None = None, *, start_timeout: float = 30.0
    ) -> None:
        self.function = function
        self.environment = local_environment(function, environment)
        self.start_timeout = start_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._session = requests.Session()
        self._lines: list[tuple[str, str]] = []  # (request id the line belongs to, line)
        self._current = ""
        self._output = threading.Condition()  # guards the lines; notified when the pump has filed what it read
        self._reading = False
        self._initialized = False
        self._init_lock = threading.Lock()

    @property
    def bootstrap_path(self) -> Path:
        return _bootstrap_dir(self.function) / "bootstrap"

    def start(self) -> None:
        path = self.bootstrap_path
        if not path.is_file():
            raise FileNotFoundError(f"no custom-runtime bootstrap at {path}")
        self.port = free_port()
        code_dir = path.parent
        env = dict(os.environ) | self.environment
        env["FC_SERVER_PORT"] = str(self.port)
        env["FC_FUNC_CODE_PATH"] = str(code_dir)
        env["FC_FUNCTION_NAME"] = self.function.name
        env["FC_SERVICE_NAME"] = self.function.service
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(code_dir), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        command = [str(path)] if os.access(path, os.X_OK) else ["sh", str(path)]
        self._process = subprocess.Popen(
            command, cwd=code_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        threading.Thread(target=self._pump, name="bootstrap-output", daemon=True).start()
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"bootstrap exited with {self._process.returncode}: " + self._tail())
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise TimeoutError(f"bootstrap did not listen on port {self.port} within {self.start_timeout}s: {self._tail()}")

    def _tail(self) -> str:
        with self._output:
            return " | ".join(line for _, line in self._lines[-10:])

    def _pump(self) -> None:
        """Read the runtime's output as it comes and attribute each line to the request whose markers surround it."""
        assert self._process is not None and self._process.stdout is not None
        with self._process.stdout as stream:
            fd, pending = stream.fileno(), b""
            ready = select.poll()  # not select(): a busy process's pipe may be numbered past its 1,024 limit
            ready.register(fd, select.POLLIN | select.POLLHUP)
            while True:
                ready.poll()  # wait for output without holding the lock
                with self._output:
                    self._reading = True
                chunk = os.read(fd, 1 << 16)
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()  # an unfinished line waits for its newline…
                if not chunk and pending:  # …unless the runtime is gone
                    lines.append(pending)
                with self._output:
                    for raw in lines:
                        self._add_line(raw.decode("utf-8", "replace"))
                    self._reading = False
                    self._output.notify_all()
                if not chunk:
                    return

    def _add_line(self, line: str) -> None:
        if "FC Invoke Start RequestId:" in line:
            self._current = line.rsplit(":", 1)[1].strip()
        self._lines.append((self._current, line))
        if "FC Invoke End RequestId:" in line:
            self._current = ""
        del self._lines[:-10_000]
        log.debug("bootstrap: %s", line)

    def _caught_up(self) -> None:
        """Wait until every byte the runtime has written so far is read and filed: what it printed before answering
        is then in the logs, deterministically (the pipe's unread byte count is 0 and the pump is not mid-chunk)."""
        process = self._process
        if process is None or process.stdout is None:
            return
        unread = array.array("i", [0])
        deadline = time.monotonic() + 10  # a bound for a runtime that prints without end; never reached otherwise
        with self._output:
            while time.monotonic() < deadline:
                try:
                    fcntl.ioctl(process.stdout.fileno(), termios.FIONREAD, unread)
                except (ValueError, OSError):  # the pump closed the pipe: the runtime is gone, everything is read
                    return
                if unread[0] == 0 and not self._reading:
                    return
                self._output.wait(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        self._session.close()

    def _headers(self, context: FCContext, control_path: str) -> dict[str, str]:
        fn = context.function
        return {
            "Content-Type": "application/octet-stream",
            "x-fc-request-id": context.request_id,
            "x-fc-access-key-id": context.credentials.access_key_id,
            "x-fc-access-key-secret": context.credentials.access_key_secret,
            "x-fc-security-token": context.credentials.security_token,
            "x-fc-function-name": fn.name,
            "x-fc-function-handler": fn.handler,
            "x-fc-function-memory": str(fn.memory),
            "x-fc-function-timeout": str(fn.timeout),
            "x-fc-function-initializer": fn.initializer,
            "x-fc-initialization-timeout": str(fn.initialization_timeout),
            "x-fc-region": context.region,
            "x-fc-account-id": context.account_id,
            "x-fc-service-name": context.service.name,
            "x-fc-qualifier": context.service.qualifier,
            "x-fc-version-id": context.service.version_id,
            "x-fc-service-logproject": context.service.log_project,
            "x-fc-service-logstore": context.service.log_store,
            "x-fc-control-path": control_path,
        }

    def _post(self, control_path: str, event: bytes, context: FCContext) -> requests.Response:
        return self._session.post(
            f"http://127.0.0.1:{self.port}{control_path}",
            data=event,
            headers=self._headers(context, control_path),
            timeout=max(context.function.timeout, 1) + 5,
        )

    def run(self, event: bytes, context: FCContext) -> RunResult:
        if self._process is None:
            raise RuntimeError("BootstrapRunner.run before start")
        started = time.perf_counter()
        try:
            self._initialize(context)
            response = self._post("/invoke", event, context)
        except (requests.RequestException, RuntimeError) as exc:
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return RunResult(False, encode_return(error), error, UNHANDLED, str(exc), self._logs_for(context.request_id),
                             (time.perf_counter() - started) * 1000)  # fmt: skip
        duration_ms = (time.perf_counter() - started) * 1000
        failed = response.status_code != 200 or response.headers.get("x-fc-status") == "404"
        body = response.content
        value: Any
        try:
            value = json.loads(body) if body else None
        except ValueError:
            value = body.decode("utf-8", "replace")
        self._caught_up()
        logs = self._logs_for(context.request_id)
        if failed:
            message = value.get("errorMessage", "") if isinstance(value, dict) else str(value)
            return RunResult(False, body, value, UNHANDLED, str(message), logs, duration_ms)
        return RunResult(True, body, value, "", "", logs, duration_ms)

    def _initialize(self, context: FCContext) -> None:
        if self._initialized or not self.function.initializer:
            return
        with self._init_lock:
            if self._initialized:
                return
            response = self._post("/initialize", b"", context)
            if response.status_code != 200 or response.headers.get("x-fc-status") == "404":
                raise RuntimeError(f"initializer failed ({response.status_code}): {response.text[:500]}")
            self._initialized = True

    def _logs_for(self, request_id: str) -> list[str]:
        with self._output:
            return [line for owner, line in self._lines if owner == request_id or request_id in line]


def _bootstrap_dir(function: FunctionSpec) -> Path:
    if function.code_dir is not None and (function.code_dir / "bootstrap").is_file():
        return function.code_dir
    return default_code_dir()


def make_runner(mode: Mode, function: FunctionSpec, environment: Mapping[str, str] | None = None) -> Runner:
    """The runner for ``mode``: ``inprocess`` (fast, debuggable) or ``bootstrap`` (FC's custom-runtime protocol, a
    subprocess that gets its environment as FC would give it)."""
    if mode == "bootstrap":
        return BootstrapRunner(function, environment)
    return InProcessRunner(function, environment)
