"""Every CLI failure a user can cause ends in one line, never a traceback; ``--local`` reaches ``ossfaces up``.

Issue 19 item 7 and issue 16 ("the local stack is one flag away"). Each case drives the real ``ossfaces`` command:
in-process through click's runner (which records an exception that escaped as ``result.exception``: a traceback
for the user), or as a subprocess where the command would otherwise keep running (``ossfaces up``). The stack is the
real local OSS + FC invoke API (``conftest.stack``); a refused connection is a port bound but not listening.
"""

from __future__ import annotations

import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import oss2
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from ossfaces_localstack.stack import LocalStack
from ossfaces_tools.commands import main

from .conftest import ROOT, backfill_args, bucket_of, env_of, put_photos

NO_CLOUD = {name: None for name in os.environ if name.startswith(("ALIBABA_CLOUD_", "OSSFACES_"))}
CLOUD_KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIcloudKeyNotForTheLocalStack", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
WRONG_SECRET = {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret"}
OSSFACES = [sys.executable, "-m", "ossfaces_tools.commands"]
TREE = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("function", "localstack", "tools"))}
"""A subprocess runs this tree's code, whichever checkout the environment was installed from."""


def run(args: list[str], env: Mapping[str, str | None] | None = None) -> Result:
    """The real command in-process; an exception that escapes is kept (it would be a traceback for the user)."""
    return CliRunner(mix_stderr=False).invoke(main, args, env={**NO_CLOUD, **(env or {})}, catch_exceptions=True)


def failure_line(result: Result) -> str:
    """The one line a failure prints (stdout and stderr together), after checking there is nothing else."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code not in (0, None)
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: "), lines
    return lines[0]


@pytest.fixture
def refused() -> Iterator[str]:
    """An endpoint that refuses connections: a loopback port bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def where(stack: LocalStack, endpoint: str | None = None) -> list[str]:
    return ["--region", stack.oss.region, "--oss-endpoint", endpoint or stack.oss.endpoint, "--no-progress"]


def commands(stack: LocalStack, tmp_path: Path, endpoint: str | None = None) -> dict[str, list[str]]:
    """Every command that reads the bucket, aimed at ``endpoint`` (default: the stack)."""
    common = where(stack, endpoint)
    fc = ["--fc-endpoint", stack.api.endpoint if stack.api else "", "--service", "ossfaces", "--function", "ossfaces"]
    return {
        "stats": ["stats", stack.bucket, *common],
        "people": ["people", stack.bucket, *common],
        "people name": ["people", "name", stack.bucket, "1", "Ann", *common],
        "people forget": ["people", "forget", stack.bucket, "1", "--yes", *common],
        "backfill": ["backfill", stack.bucket, *common, *fc, "--checkpoint", str(tmp_path / "ck.json")],
    }


COMMANDS = ["stats", "people", "people name", "people forget", "backfill"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_secret_is_one_line(command: str, stack: LocalStack, tmp_path: Path) -> None:
    line = failure_line(run(commands(stack, tmp_path)[command], {**env_of(stack), **WRONG_SECRET}))
    assert "refused the key pair (403 SignatureDoesNotMatch" in line and "--local" in line, line


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_endpoint_is_one_line(command: str, stack: LocalStack, tmp_path: Path, refused: str) -> None:
    line = failure_line(run(commands(stack, tmp_path, refused)[command], env_of(stack)))
    assert f"cannot reach OSS at {refused} (connection refused): start it with `ossfaces up`" in line, line


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_credentials_are_one_line(command: str, stack: LocalStack, tmp_path: Path) -> None:
    line = failure_line(run(commands(stack, tmp_path)[command]))
    assert "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID" in line and "--local" in line, line


def test_an_unknown_host_a_missing_bucket_and_a_bad_bucket_name_are_one_line(stack: LocalStack) -> None:
    host = failure_line(run(["stats", stack.bucket, *where(stack, "http://no-such-host.invalid")], env_of(stack)))
    assert "cannot reach OSS at http://no-such-host.invalid (host not found): check --oss-endpoint" in host
    missing = failure_line(run(["people", "no-such-bucket", *where(stack)], env_of(stack)))
    assert "no bucket 'no-such-bucket'" in missing and "404 NoSuchBucket" in missing
    invalid = failure_line(run(["backfill", "B", *where(stack), "--dry-run"], env_of(stack)))
    assert "'B' is not a valid bucket name" in invalid


def test_fc_out_of_reach_stops_backfill_in_one_line(stack: LocalStack, tmp_path: Path, refused: str) -> None:
    put_photos(stack, [f"fc/{i}.jpg" for i in range(12)])
    args = [*backfill_args(stack, tmp_path / "ck.json"), "--fc-endpoint", refused]
    line = failure_line(run([a for a in args if a != "--json"], env_of(stack)))
    assert f"cannot reach FC at {refused} (connection refused): start it with `ossfaces up`" in line, line


def test_an_output_file_that_cannot_be_written_is_one_line(stack: LocalStack, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "report.csv"
    line = failure_line(run(["stats", stack.bucket, *where(stack), "--csv", str(target)], env_of(stack)))
    assert f"--csv {target}: there is no folder {target.parent}" in line


# ------------------------------------------------------------------------------------------- the trigger files


@pytest.mark.parametrize("name", ["s.yaml", "template.yml"])
def test_a_trigger_file_that_is_not_yaml_is_one_line(name: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / name).write_text("edition: 3.0.0\nresources:\n  ossfaces: [unclosed\n", encoding="utf-8")
    event = str(ROOT / "events" / "oss_put_jpg.json")
    for args in (["invoke", event, "--project-dir", str(project)], ["demo", "--project-dir", str(project)]):
        line = failure_line(run(args))
        assert f"{project / name} is not valid YAML at line " in line, line
    found = ["--project-dir", str(project)] if name == "template.yml" else ["--template", str(project / name)]
    up = subprocess.run([*OSSFACES, "up", *found, "--data-dir", str(tmp_path / "d"), "--port", "0", "--fc-port", "0",
                         "--imm-port", "0"], capture_output=True, text=True, timeout=60, check=False, env=TREE)  # fmt: skip
    assert up.returncode == 1 and "Traceback" not in up.stderr
    assert up.stdout == "" and up.stderr.startswith(f"Error: {project / name} is not valid YAML at line "), up.stderr
    assert up.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------- ossfaces up


@pytest.mark.parametrize("flag", ["--port", "--fc-port", "--imm-port"])
def test_a_busy_port_is_one_line(flag: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {"--port": "0", "--fc-port": "0", "--imm-port": "0", flag: str(port)}
        up = subprocess.run([*OSSFACES, "up", "--project-dir", str(ROOT), "--data-dir", str(tmp_path / "d"),
                             *(part for item in ports.items() for part in item)],
                            capture_output=True, text=True, timeout=60, check=False, env=TREE)  # fmt: skip
    assert up.returncode == 1 and "Traceback" not in up.stderr, up.stderr
    assert up.stderr.count("\n") == 1 and up.stdout == ""
    assert up.stderr.startswith(f"Error: port {port} on 127.0.0.1 is in use") and f"another {flag}" in up.stderr


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def test_up_prints_the_flag_for_the_tools_and_no_sdk_noise(tmp_path: Path) -> None:
    """An upload used to log oss2's INFO lines about the ``NoSuchKey`` of the function's HEADs (issue 16)."""
    up = subprocess.Popen([*OSSFACES, "up", "--project-dir", str(ROOT), "--data-dir", str(tmp_path / "d"),
                           "--port", "0", "--fc-port", "0", "--imm-port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=TREE)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in up.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []

    def read_until(text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in seen):
            try:
                seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in:\n{''.join(seen)}") from None

    try:
        read_until("print(bucket.get_object(")  # the end of the stack's description
        endpoint = next(line.split()[-1] for line in seen if line.strip().startswith("OSS endpoint"))
        bucket_name = next(line.split()[-1] for line in seen if line.strip().startswith("bucket "))
        read_until("the tools on this stack:", timeout=5)
        tools = next(line for line in seen if "the tools on this stack:" in line)
        assert f"ossfaces stats {bucket_name} --local --oss-endpoint {endpoint} --fc-endpoint http://" in tools
        from ossfaces_tools.access import local_keys

        oss2.Bucket(oss2.Auth(*local_keys()), endpoint, bucket_name).put_object("noise/a.jpg", jpeg())
        read_until("succeeded in")  # the function's invocation, logged by the stack
        stats = run(["stats", bucket_name, "--local", "--oss-endpoint", endpoint, "--no-progress"], CLOUD_KEYS)
        assert stats.exit_code == 0, stats.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=30)
        reader.join(timeout=10)
        if up.stdout is not None:
            up.stdout.close()
    while not lines.empty():
        seen.append(lines.get())
    log = "".join(seen)
    assert '"action": "processed"' in log and "INFO oss2" not in log and "NoSuchKey" not in log, log


# ------------------------------------------------------------------------------------------- --local


def test_local_reaches_the_stack_with_its_keys_whatever_the_environment_says(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # --local's FC function: the project's, from s.yaml here
    put_photos(stack, ["local/a.jpg", "local/b.jpg"])
    cloud = {**CLOUD_KEYS, "OSSFACES_OSS_ENDPOINT": "https://oss-cn-hangzhou.aliyuncs.com",
             "OSSFACES_FC_SERVICE": "cloud-service", "OSSFACES_FC_FUNCTION": "cloud-function"}  # fmt: skip
    local = ["--local", "--oss-endpoint", stack.oss.endpoint, "--no-progress", "--prefix", "local/"]
    assert stack.api is not None
    backfill = run(["backfill", stack.bucket, *local, "--fc-endpoint", stack.api.endpoint, "--checkpoint",
                    str(tmp_path / "ck.json"), "--json"], cloud)  # fmt: skip
    assert backfill.exit_code == 0, backfill.stderr
    assert '"dispatched": 2' in backfill.stdout
    assert stack.wait_idle(60)
    stats = run(["stats", stack.bucket, *local, "--json"], cloud)
    assert stats.exit_code == 0, stats.stderr
    assert '"documents": 2' in stats.stdout
    people = run(["people", stack.bucket, *local, "--json"], cloud)
    assert people.exit_code == 0, people.stderr
    without = failure_line(run(["stats", stack.bucket, *local[1:]], cloud))  # the cloud's keys: refused
    assert "refused the key pair" in without and "pass --local" in without


def test_local_alone_looks_for_up_on_its_default_port(stack: LocalStack) -> None:
    result = run(["stats", "no-such-bucket-p19", "--local", "--no-progress"], CLOUD_KEYS)
    if result.exit_code != 0:  # nothing on 9400 (refused), or another `ossfaces up` there (no such bucket)
        assert "http://127.0.0.1:9400" in failure_line(result)


def test_invoke_against_a_stack_that_is_not_there_is_one_line(refused: str) -> None:
    line = failure_line(run(["invoke", str(ROOT / "events" / "oss_put_jpg.json"), "--endpoint", refused]))
    assert f"cannot reach OSS at {refused} (connection refused): start it with `ossfaces up`" in line


# ------------------------------------------------------------------------------------------- wording


def test_the_backfill_summary_says_up_to_date_one_way(stack: LocalStack, tmp_path: Path) -> None:
    put_photos(stack, ["same/a.jpg", "same/b.jpg"])
    args = [*backfill_args(stack, tmp_path / "ck.json"), "--prefix", "same/"]
    assert run(args, env_of(stack)).exit_code == 0
    assert stack.wait_idle(60) and bucket_of(stack).object_exists("same/b.jpg.faces.json")
    again = run(args, env_of(stack))
    assert again.exit_code == 0, again.stderr
    assert "up-to-date" not in again.stderr and again.stderr.count("up to date") == 1, again.stderr
    assert '"up-to-date": 2' in again.stdout  # the JSON keeps the verdict's name
