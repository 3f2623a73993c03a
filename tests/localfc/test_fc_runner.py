"""Running the function: in-process (one App from the declared environment) and through a custom-runtime bootstrap subprocess."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ossfaces.invocation import App
from ossfaces.settings import Settings
from ossfaces_localstack.fc.runner import BootstrapRunner, InProcessRunner, default_code_dir, local_environment
from ossfaces_localstack.fc.triggers import FunctionSpec

from .localfc_support import make_context


def _spec(code: Path, **extra: object) -> FunctionSpec:
    return FunctionSpec("fn", "svc", initializer="index.initializer", code_dir=code, timeout=10, **extra)  # type: ignore[arg-type]


def test_local_environment_drops_fc_paths_and_maps_code_root(fake_code: Path) -> None:
    spec = _spec(fake_code, environment={"PATH": "/opt/python3.10/bin", "PYTHONPATH": "/code/python",
                                         "FAKE_MODELS": "/code/models", "FAKE_VAR": "x"})  # fmt: skip
    env = local_environment(spec, {"FAKE_VAR": "override"})
    assert env == {"FAKE_MODELS": f"{fake_code}/models", "FAKE_VAR": "override"}


def _not_image_event() -> bytes:
    return (default_code_dir().parent / "events" / "oss_not_image.json").read_bytes()


def test_in_process_builds_one_app_from_the_declared_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The function's settings come from the template's variables + the stack's overrides, never from os.environ."""
    monkeypatch.setenv("OSSFACES_RESULT_SUFFIX", ".leaked-from-the-test-process.json")
    before = dict(os.environ)
    spec = _spec(
        default_code_dir(), environment={"OSSFACES_RESULT_SUFFIX": ".out.json", "OSSFACES_MODELS_DIR": "/code/models"}
    )
    runner = InProcessRunner(spec, {"OSSFACES_ENGINE": "imm", "OSSFACES_OSS_ENDPOINT": "http://127.0.0.1:9"})
    runner.start()
    try:
        assert runner.app is not None
        settings = runner.app.settings
        result = runner.run(_not_image_event(), make_context(spec, "req-1"))
        again = runner.run(_not_image_event(), make_context(spec, "req-2"))
    finally:
        runner.stop()
    assert settings.result_suffix == ".out.json" and settings.oss_endpoint == "http://127.0.0.1:9"
    assert settings.models_dir == default_code_dir() / "models"  # /code/... mapped to the local code directory
    assert dict(os.environ) == before  # nothing written, nothing to restore
    assert result.ok and result.error_type == "" and result.value["skipped"] == 1 and again.ok
    assert json.loads(result.body) == result.value
    assert any("req-1 [INFO]" in line and "oss_not_image" not in line for line in result.logs)
    assert not any("req-2" in line for line in result.logs)


def test_in_process_runs_the_app_it_is_given_and_initializes_it_once() -> None:
    """Tests and the stack can hand the runner an App (e.g. with an engine of their own)."""

    class CountingApp(App):
        initialized = 0

        def initialize(self, context: object = None) -> None:
            type(self).initialized += 1

    app = CountingApp(Settings.from_environ({"OSSFACES_OSS_ENDPOINT": "http://127.0.0.1:9"}))
    spec = _spec(default_code_dir())
    runner = InProcessRunner(spec, app=app)
    runner.start()
    try:
        results = [runner.run(_not_image_event(), make_context(spec, f"req-{n}")) for n in range(3)]
    finally:
        runner.stop()
    assert runner.app is app and CountingApp.initialized == 1
    assert all(r.ok and r.value["skipped"] == 1 for r in results)


def test_in_process_handler_error_is_fcs_unhandled_error() -> None:
    spec = _spec(default_code_dir())
    runner = InProcessRunner(spec, {"OSSFACES_OSS_ENDPOINT": "http://127.0.0.1:9"})
    runner.start()
    try:
        result = runner.run(b'{"not": "an event"}', make_context(spec, "req-x"))
    finally:
        runner.stop()
    assert not result.ok
    assert result.error_type == "UnhandledInvocationError"
    assert result.value["errorType"] == "ConfigError" and "InvalidEvent" in result.value["errorMessage"]
    assert "ConfigError: InvalidEvent" in result.error_message


FAKE_BOOTSTRAP = textwrap.dedent(
    """\
    #!{python}
    # A minimal custom runtime: echoes the x-fc-* headers and the event; fails when the event says "raise".
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rid = self.headers["x-fc-request-id"]
            print("FC Invoke Start RequestId: " + rid, flush=True)
            for n in range(int(os.environ.get("FAKE_BURST", "0")) if self.path == "/invoke" else 0):  # a chatty function
                print(f"line {{n}} " + "x" * 80)
            print("handling " + self.path, flush=True)
            headers = {{k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-fc-")}}
            failed = self.path == "/invoke" and b"raise" in body
            out = json.dumps({{"errorMessage": "asked to fail", "errorType": "ValueError"}} if failed
                             else {{"path": self.path, "headers": headers, "event": body.decode(),
                                    "env": os.environ.get("FAKE_VAR")}}).encode()
            self.send_response(404 if failed else 200)
            self.send_header("x-fc-status", "404" if failed else "200")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            print("FC Invoke End RequestId: " + rid, flush=True)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["FC_SERVER_PORT"])), Handler).serve_forever()
    """
)


@pytest.fixture
def fake_bootstrap(fake_code: Path) -> Path:
    path = fake_code / "bootstrap"
    path.write_text(FAKE_BOOTSTRAP.format(python=sys.executable), encoding="utf-8")
    path.chmod(0o755)
    return fake_code


def test_bootstrap_protocol(fake_bootstrap: Path) -> None:
    spec = _spec(fake_bootstrap, environment={"FAKE_VAR": "v"}, memory=1024)
    runner = BootstrapRunner(spec)
    runner.start()
    try:
        result = runner.run(b'{"n": 1}', make_context(spec, "req-b"))
        failed = runner.run(b'{"raise": true}', make_context(spec, "req-f"))
    finally:
        runner.stop()
    assert result.ok, result
    echoed = result.value
    assert echoed["path"] == "/invoke" and echoed["event"] == '{"n": 1}' and echoed["env"] == "v"
    headers = echoed["headers"]
    assert headers["x-fc-request-id"] == "req-b"
    assert headers["x-fc-access-key-id"] == "STS.test" and headers["x-fc-security-token"] == "token"
    assert headers["x-fc-function-name"] == "fn" and headers["x-fc-function-memory"] == "1024"
    assert headers["x-fc-region"] == "cn-hangzhou" and headers["x-fc-control-path"] == "/invoke"
    assert any("handling /invoke" in line for line in result.logs), result.logs
    assert not failed.ok and failed.error_type == "UnhandledInvocationError"
    assert failed.error_message == "asked to fail"


def test_logs_are_read_when_the_process_has_over_a_thousand_files_open(fake_bootstrap: Path) -> None:
    """A long-lived process (the stack, a test worker) can hold more than 1,024 descriptors, so the runtime's pipe gets
    a number ``select()`` refuses (``FD_SETSIZE``): the reader thread died on it and every log line was lost (seen in
    CI as a missing "handling /invoke")."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        spec = _spec(fake_bootstrap, environment={"FAKE_VAR": "v"})
        runner = BootstrapRunner(spec)
        runner.start()
        try:
            result = runner.run(b'{"n": 1}', make_context(spec, "req-fd"))
        finally:
            runner.stop()
    finally:
        for fd in held:
            os.close(fd)
    assert result.ok, result
    assert any("handling /invoke" in line for line in result.logs), result.logs


def test_every_line_printed_before_the_answer_is_in_the_invocations_logs(fake_bootstrap: Path) -> None:
    """A runtime that prints thousands of lines and then answers: the result carries all of them, however far the
    output pump lags behind (it once missed the last line when the answer came first). A busy thread in this process,
    as the stack's own work is, holds the GIL the pump needs."""
    spec = _spec(fake_bootstrap, environment={"FAKE_BURST": "5000"})
    runner = BootstrapRunner(spec)
    runner.start()
    done = threading.Event()
    busy = threading.Thread(target=lambda: [sum(range(1000)) for _ in iter(done.is_set, True)], daemon=True)
    busy.start()
    try:
        results = [runner.run(b'{"n": 1}', make_context(spec, f"req-{n}")) for n in range(3)]
    finally:
        done.set()
        busy.join()
        runner.stop()
    for result in results:
        assert result.ok, result
        assert sum(line.startswith("line ") for line in result.logs) == 5000
        assert "handling /invoke" in result.logs, result.logs[-3:]


def test_real_bootstrap_runs_the_real_handler(tmp_path: Path) -> None:
    """function/bootstrap (the custom runtime template.yml deploys) around the real handler, on an event it skips."""
    code = default_code_dir()
    if not (code / "bootstrap").is_file():
        pytest.skip("function/bootstrap is not in this checkout yet")
    spec = FunctionSpec("ossfaces", "ossfaces", code_dir=code, timeout=30)
    runner = BootstrapRunner(spec, {"OSSFACES_ENGINE": "imm", "OSSFACES_OSS_ENDPOINT": "http://127.0.0.1:9"})
    event = (code.parent / "events" / "oss_not_image.json").read_bytes()
    runner.start()
    try:
        result = runner.run(event, make_context(spec, "req-real"))
        bad = runner.run(b'{"not": "an event"}', make_context(spec, "req-bad"))
    finally:
        runner.stop()
    assert result.ok, result
    assert result.value["skipped"] == 1
    assert not bad.ok and bad.error_type == "UnhandledInvocationError"
