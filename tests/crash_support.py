"""The kill -9 harness (one copy): uploads against a local OSS or the whole local stack running as a child process,
SIGKILL mid-way, restart on the same data directory, and count what survived.

- :func:`kill9_oss_round`: the local OSS alone; every object must be complete or absent, every acknowledged one present.
- :func:`kill9_stack_round`: the whole local stack (OSS + trigger + the real function); every acknowledged photo must
  get its ``.faces.json`` after the restart, and none a second one.
- :func:`startup_race_round`: no kill; uploads hammered at a freshly started stack from the first instant its port
  accepts, each of which must get its result.

Used by tests/localstack/test_oss_durability.py, tests/localfc/test_fc_delivery.py and benchmarks/bench_oss_crash.py.
``python -m crash_support serve-stack …`` is the child the stack round spawns (not a user command).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import oss2

from ossfaces_localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from ossfaces_localstack.oss.process import child_env, free_port, spawn

RESULT_SUFFIX = ".faces.json"
ANALYSES_LOG = "analyses.log"  # one line per imm/detectface call (an analysis started), key
RESULTS_LOG = "results.log"  # one line per result written, key


def _bucket(port: int, name: str) -> oss2.Bucket:
    auth = oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    return oss2.Bucket(auth, f"http://127.0.0.1:{port}", name, connect_timeout=30)


def _wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the child exited with {process.returncode} before listening on port {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


def _kill9(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def _upload_and_kill(
    process: subprocess.Popen[bytes], put: Callable[[str], None], keys: list[str], kill_after: int, workers: int
) -> set[str]:
    """``put`` every key from ``workers`` threads; SIGKILL ``process`` once ``kill_after`` are acknowledged."""
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def one(key: str) -> None:
        try:
            put(key)
        except Exception:  # the server died under this upload: it was not acknowledged
            return
        with lock:
            acknowledged.add(key)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(one, k) for k in keys]
        deadline = time.monotonic() + 30
        while len(acknowledged) < kill_after and time.monotonic() < deadline:
            time.sleep(0.005)
        _kill9(process)
        concurrent.futures.wait(futures)
    return acknowledged


# --- the local OSS alone -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OssRound:
    uploads: int
    acknowledged: int
    complete: int
    absent: int
    torn: list[str]  # present with other bytes than uploaded
    lost: list[str]  # acknowledged, absent after the restart
    leftovers: list[str]  # temp files left after the restart's sweep


def kill9_oss_round(data: Path, uploads: int = 50, size: int = 2 * 1024 * 1024, bucket: str = "crash") -> OssRound:
    """``uploads`` concurrent slow PUTs (0 to ~1 s each), kill -9 once a fifth finished, restart, check every object."""
    port = free_port()
    bodies = {f"obj/{i:03d}": hashlib.sha256(f"{data}{i}".encode()).digest() * (size // 32) for i in range(uploads)}
    target = _bucket(port, bucket)

    def chunks(body: bytes, delay: float) -> Iterator[bytes]:
        for i in range(0, len(body), 256 * 1024):
            time.sleep(delay)
            yield body[i : i + 256 * 1024]

    def put(key: str) -> None:
        target.put_object(key, chunks(bodies[key], 0.015 * (int(key[-3:]) % 10)))

    process = spawn(data, port, bucket)
    acknowledged = _upload_and_kill(process, put, list(bodies), uploads // 5, uploads)
    process = spawn(data, port, bucket)
    try:
        complete = absent = 0
        torn: list[str] = []
        lost: list[str] = []
        for key, body in bodies.items():
            try:
                got = target.get_object(key).read()
            except oss2.exceptions.NoSuchKey:
                absent += 1
                if key in acknowledged:
                    lost.append(key)
                continue
            if got == body:
                complete += 1
            else:
                torn.append(key)
        leftovers = sorted(p.name for p in (data / "tmp").iterdir())
    finally:
        process.terminate()
        process.wait(10)
    return OssRound(uploads, len(acknowledged), complete, absent, torn, lost, leftovers)


# --- the whole local stack ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackRound:
    uploads: int
    acknowledged: list[str]
    stored: list[str]  # photos present after the restart (acknowledged or not)
    without_result: list[str]  # stored photos with no .faces.json once the restarted stack is idle
    results_written: Counter[str] = field(default_factory=Counter)  # photo key → result writes, both runs
    analyses: Counter[str] = field(default_factory=Counter)  # photo key → imm/detectface calls, both runs

    @property
    def written_twice(self) -> list[str]:
        return sorted(k for k, n in self.results_written.items() if n > 1)

    @property
    def acknowledged_without_result(self) -> list[str]:
        return sorted(set(self.acknowledged) & set(self.without_result))


def small_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 90)).save(out, "JPEG")
    return out.getvalue()


def spawn_stack(
    data: Path, port: int, bucket: str, logs: Path, *, analysis_s: float = 0.02, timeout: float | None = 60.0
) -> subprocess.Popen[bytes]:
    """The whole local stack in a child process (``serve-stack``); returns once its OSS port accepts connections
    (at once with ``timeout=None``)."""
    env = child_env(str(Path(__file__).resolve().parent))
    command = [sys.executable, "-m", "crash_support", "serve-stack", "--data-dir", str(data),
               "--port", str(port), "--bucket", bucket, "--logs", str(logs), "--analysis-s", str(analysis_s)]  # fmt: skip
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stack.stderr").open("ab") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    if timeout is not None:
        _wait_listening(process, port, timeout)
    return process


def kill9_stack_round(
    data: Path, uploads: int = 40, *, kill_after: int | None = None, bucket: str = "crash", settle_s: float = 30.0,
    analysis_s: float = 0.02,
) -> StackRound:  # fmt: skip
    """Upload ``uploads`` photos from 8 threads, kill -9 the stack after ``kill_after`` (default a third) are
    acknowledged, restart it, and wait up to ``settle_s`` for every stored photo to get its result."""
    port = free_port()
    logs = data.parent / f"{data.name}-logs"
    photo = small_jpeg()
    target = _bucket(port, bucket)
    keys = [f"photos/{i:04d}.jpg" for i in range(uploads)]
    process = spawn_stack(data, port, bucket, logs, analysis_s=analysis_s)
    acknowledged = _upload_and_kill(
        process, lambda key: target.put_object(key, photo), keys, kill_after or uploads // 3, 8
    )
    process = spawn_stack(data, port, bucket, logs, analysis_s=analysis_s)
    try:
        stored = [k for k in keys if target.object_exists(k)]
        deadline = time.monotonic() + settle_s
        waiting = list(stored)
        while waiting and time.monotonic() < deadline:
            waiting = [k for k in waiting if not target.object_exists(k + RESULT_SUFFIX)]
            if waiting:
                time.sleep(0.2)
        time.sleep(0.5)  # let a late duplicate show itself in the logs
    finally:
        process.terminate()
        process.wait(30)
    return StackRound(
        uploads, sorted(acknowledged), stored, waiting, _count(logs / RESULTS_LOG), _count(logs / ANALYSES_LOG)
    )


@dataclass(frozen=True)
class StartupRound:
    acknowledged: list[str]  # uploads the stack answered within the window after its port first accepted one
    without_result: list[str]  # of those, the ones with no .faces.json once the stack is idle


def startup_race_round(
    data: Path, window_s: float = 0.3, *, bucket: str = "race", settle_s: float = 30.0
) -> StartupRound:
    """Start the stack in a child process and, from the first instant its port accepts an upload, keep uploading for
    ``window_s`` (one client); then wait up to ``settle_s`` for every acknowledged upload's result."""
    port = free_port()
    photo = small_jpeg()
    target = _bucket(port, bucket)
    process = spawn_stack(data, port, bucket, data.parent / f"{data.name}-logs", timeout=None)
    acknowledged: list[str] = []
    try:
        first: float | None = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (first is None or time.monotonic() - first < window_s):
            key = f"photos/{len(acknowledged):04d}.jpg"
            try:
                target.put_object(key, photo)
            except (oss2.exceptions.RequestError, oss2.exceptions.ServerError):
                if process.poll() is not None:
                    raise RuntimeError(f"the stack exited with {process.returncode}") from None
                time.sleep(0.001)  # not listening yet (or not ready): again at once
                continue
            first = first or time.monotonic()
            acknowledged.append(key)
        waiting = list(acknowledged)
        settle = time.monotonic() + settle_s
        while waiting and time.monotonic() < settle:
            waiting = [k for k in waiting if not target.object_exists(k + RESULT_SUFFIX)]
            if waiting:
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(30)
    return StartupRound(acknowledged, waiting)


def _count(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(line for line in path.read_text(encoding="utf-8").splitlines() if line)


def _appender(path: Path) -> Callable[[str], None]:
    """Append one line per call with O_APPEND, so lines of both runs (and of threads) never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(line: str) -> None:
        os.write(fd, (line + "\n").encode("utf-8"))

    return append


def serve_stack(data: Path, port: int, bucket: str, logs: Path, analysis_s: float) -> None:
    """The child of :func:`spawn_stack`: the stack with the real function, a stand-in detector that takes
    ``analysis_s`` and finds no face, and two logs (analyses started, results written) that survive the kill."""
    from ossfaces.settings import DEFAULT_IMAGE_SUFFIXES
    from ossfaces_localstack.fc.invoker import DeliveryPolicy
    from ossfaces_localstack.fc.runner import default_code_dir
    from ossfaces_localstack.fc.triggers import FunctionSpec, default_triggers
    from ossfaces_localstack.oss import ObjectCreated
    from ossfaces_localstack.stack import LocalStack, run_foreground

    logs.mkdir(parents=True, exist_ok=True)
    analysed = _appender(logs / ANALYSES_LOG)
    written = _appender(logs / RESULTS_LOG)

    def detector(data: bytes) -> list[dict[str, object]]:
        time.sleep(analysis_s)
        return []

    function = FunctionSpec(name="ossfaces", service="ossfaces", code_dir=default_code_dir(),
                            initializer="index.initializer", timeout=10,
                            environment={"OSSFACES_RESULT_SUFFIX": RESULT_SUFFIX})  # fmt: skip
    triggers = default_triggers(
        bucket, DEFAULT_IMAGE_SUFFIXES, function
    )  # the project's form: EventBridge, CloudEvents
    stack = LocalStack(data, triggers=triggers, oss_port=port, fc_port=None, detector=detector,
                       policy=DeliveryPolicy(backoff_scale=0.2))  # fmt: skip
    process = stack.oss.app.processors["imm/detectface"]

    def counted(request):  # type: ignore[no-untyped-def]
        analysed(request.key)
        return process(request)

    stack.oss.set_processor("imm/detectface", counted)

    def on_created(created: ObjectCreated) -> None:
        if created.key.endswith(RESULT_SUFFIX):
            written(created.key.removesuffix(RESULT_SUFFIX))

    stack.oss.add_listener(on_created)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_foreground(stack)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crash_support")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve-stack", help="the child process of the stack round")
    serve.add_argument("--data-dir", type=Path, required=True)
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--bucket", required=True)
    serve.add_argument("--logs", type=Path, required=True)
    serve.add_argument("--analysis-s", type=float, default=0.02)
    args = parser.parse_args(argv)
    serve_stack(args.data_dir, args.port, args.bucket, args.logs, args.analysis_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
