"""``ossfaces up`` (as a real subprocess, stopped with Ctrl-C) and ``ossfaces invoke`` (ephemeral or --endpoint)."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import oss2
import pytest
from click.testing import CliRunner

from ossfaces_localstack.imm import DEFAULT_PROJECT
from ossfaces_localstack.invoke import running_imm_endpoint
from ossfaces_localstack.stack import DEFAULT_FC_PORT, DEFAULT_IMM_PORT, DEFAULT_OSS_PORT, LocalStack
from ossfaces_tools.commands import main
from ossfaces_tools.commands.stack import up

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_invoke_ephemeral_prints_the_return_value(tmp_path: Path) -> None:
    result = CliRunner(mix_stderr=False).invoke(
        main, ["invoke", str(EVENTS / "oss_not_image.json"), "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["records"] == 1 and summary["skipped"] == 1
    assert '"action": "skipped"' in result.stderr


def test_invoke_with_a_photo_processes_every_fixture_key(tmp_path: Path, face_jpeg: bytes) -> None:
    """--photo puts real bytes at the keys the event names (here Chinese and spaced ones), so the event meets them."""
    photo, broken = tmp_path / "me.jpg", tmp_path / "broken.jpg"
    photo.write_bytes(face_jpeg)
    broken.write_bytes(face_jpeg[: len(face_jpeg) // 3])
    outcomes = {}
    for fixture, body in (
        ("oss_key_chinese.json", photo),
        ("eventbridge_cloudevent_list.json", photo),
        ("oss_put_jpg.json", broken),
    ):
        result = CliRunner(mix_stderr=False).invoke(
            main, ["invoke", str(EVENTS / fixture), "--project-dir", str(tmp_path), "--photo", str(body)]
        )
        assert result.exit_code == 0, result.output
        outcomes[fixture] = json.loads(result.stdout)
    assert outcomes["oss_key_chinese.json"]["processed"] == 1
    assert outcomes["eventbridge_cloudevent_list.json"]["processed"] == 2
    assert outcomes["oss_put_jpg.json"]["error-document"] == 1  # a truncated photo: an Error document, no failure


def test_invoke_exits_non_zero_when_the_handler_raises(tmp_path: Path) -> None:
    result = CliRunner(mix_stderr=False).invoke(
        main, ["invoke", "-", "--project-dir", str(tmp_path)], input='{"not": "an event"}'
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errorType"] == "ConfigError"


def test_invoke_against_a_running_stack(tmp_path: Path, face_jpeg: bytes) -> None:
    with LocalStack(tmp_path / "data", triggers=[], bucket="photos", fc_port=None, fsync=False) as stack:
        bucket = oss2.Bucket(
            oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, "photos"
        )
        head = bucket.put_object("a.jpg", face_jpeg)
        event = {"events": [{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss",
                             "eventTime": "2026-11-21T00:00:00.000Z", "region": "cn-hangzhou",
                             "oss": {"bucket": {"name": "photos"},
                                     "object": {"key": "a.jpg", "size": len(face_jpeg), "eTag": head.etag}}}]}  # fmt: skip
        result = CliRunner(mix_stderr=False).invoke(
            main,
            ["invoke", "-", "--endpoint", stack.oss.endpoint, "--project-dir", str(tmp_path)],
            input=json.dumps(event),
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["processed"] == 1
        document = json.loads(bucket.get_object("a.jpg.faces.json").read())
    assert len(document["Faces"]) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_up_defaults_to_the_fixed_local_ports() -> None:
    """`ossfaces up` listens where the docs and `ossfaces invoke` expect it: OSS 9400, FC API 9401, IMM v2 9402."""
    defaults = {param.name: param.default for param in up.params}
    assert (defaults["port"], defaults["fc_port"], defaults["imm_port"]) == (
        DEFAULT_OSS_PORT,
        DEFAULT_FC_PORT,
        DEFAULT_IMM_PORT,
    )
    assert (DEFAULT_OSS_PORT, DEFAULT_FC_PORT, DEFAULT_IMM_PORT) == (9400, 9401, 9402)


@pytest.mark.slow
def test_up_serves_until_ctrl_c(tmp_path: Path, face_jpeg: bytes) -> None:
    project = tmp_path / "project"
    project.mkdir()
    imm_port = free_port()
    command = [sys.executable, "-c", "from ossfaces_tools.commands import main; main()", "up", "--port", "0", "--fc-port", "0",
               "--imm-port", str(imm_port), "--data-dir", str(tmp_path / "data"), "--project-dir", str(project)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        printed = ""
        while "triggers" not in printed:
            line = process.stdout.readline()
            assert line, f"ossfaces up exited early: {printed}"
            printed += line
        assert re.search(rf"IMM v2 endpoint\s+http://127\.0\.0\.1:{imm_port}\s", printed), printed
        endpoint = re.search(r"OSS endpoint\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        bucket_name = re.search(r"bucket\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        key_id = re.search(r"access key id\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        secret = re.search(r"access key secret\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        assert endpoint.startswith("http://127.0.0.1:") and bucket_name == "ossfaces-local"
        bucket = oss2.Bucket(oss2.Auth(key_id, secret), endpoint, bucket_name)
        bucket.put_object("me.jpg", face_jpeg)
        deadline = time.monotonic() + 30
        while not bucket.object_exists("me.jpg.faces.json"):
            assert time.monotonic() < deadline, "no result within 30 s"
            time.sleep(0.1)
        assert len(json.loads(bucket.get_object("me.jpg.faces.json").read())["Faces"]) == 1
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        assert process.stdout is not None
        process.stdout.close()
    assert code == 0


def test_invoke_imm2_against_a_running_stack_uses_its_imm_endpoint(tmp_path: Path, face_jpeg: bytes) -> None:
    """--engine imm2 --endpoint URL --imm-endpoint URL: the handler calls DetectImageFaces on that stack's IMM v2."""
    with LocalStack(tmp_path / "data", triggers=[], bucket="photos", fc_port=None, fsync=False) as stack:
        assert stack.imm is not None
        bucket = oss2.Bucket(
            oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, "photos"
        )
        bucket.put_object("a.jpg", face_jpeg)
        event = json.loads((EVENTS / "oss_put_jpg.json").read_text(encoding="utf-8"))
        record = event["events"][0]
        record["oss"]["bucket"]["name"] = "photos"
        record["oss"]["object"].update(key="a.jpg", size=len(face_jpeg), eTag=bucket.head_object("a.jpg").etag)
        result = CliRunner(mix_stderr=False).invoke(
            main,
            [
                "invoke",
                "-",
                "--endpoint",
                stack.oss.endpoint,
                "--imm-endpoint",
                stack.imm.endpoint,
                "--engine",
                "imm2",
                "--project-dir",
                str(tmp_path),
            ],
            input=json.dumps(event),
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["processed"] == 1
        document = json.loads(bucket.get_object("a.jpg.faces.json").read())
        (call,) = stack.imm.calls
    assert document["Engine"]["Name"] == "imm2" and len(document["Faces"]) == 1
    assert (call.project, call.source_uri, call.status) == (DEFAULT_PROJECT, "oss://photos/a.jpg", 200)


def test_invoke_imm2_needs_the_imm_endpoint_of_a_non_default_stack(tmp_path: Path) -> None:
    """Only `ossfaces up`'s default OSS endpoint implies its IMM endpoint (9400 → 9402); any other is not guessed."""
    result = CliRunner(mix_stderr=False).invoke(
        main,
        [
            "invoke",
            str(EVENTS / "oss_put_jpg.json"),
            "--endpoint",
            "http://127.0.0.1:9",
            "--engine",
            "imm2",
            "--project-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0 and "--imm-endpoint" in result.stderr, result.stderr


def test_the_default_oss_endpoint_implies_the_default_imm_endpoint() -> None:
    assert running_imm_endpoint("http://127.0.0.1:9400") == "http://127.0.0.1:9402"
    assert running_imm_endpoint("http://localhost:9400/") == "http://localhost:9402"
    assert running_imm_endpoint("http://127.0.0.1:9500") is None
    assert running_imm_endpoint("http://oss-cn-hangzhou.aliyuncs.com") is None
