"""``ossfaces backfill``: the decision from the listing, the event it sends, the checkpoint, and end to end on the stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import oss2
import pytest
from click.testing import Result

from ossfaces.events import OssRecord, parse_event
from ossfaces.idempotency import META_ENGINE, META_SOURCE_ETAG, staleness
from ossfaces.pipeline import skip_reason
from ossfaces.settings import Settings
from ossfaces_localstack.fc.invoker import DeliveryPolicy
from ossfaces_localstack.stack import LocalStack
from ossfaces_tools.backfill import (
    ASYNC_PAYLOAD_LIMIT,
    Checkpoint,
    Scanner,
    TokenBucket,
    event_payloads,
    make_record,
)

from .conftest import ROOT, backfill_args, bucket_of, env_of, invoked_keys, make_stack, put_photos, results, summary_of

CLI = Callable[..., Result]
KEYS = [f"photos/{i:03d}.jpg" for i in range(25)]


# ----------------------------------------------------------------------------------------------------------- units


def test_the_event_is_the_triggers_shape_and_parses() -> None:
    record = make_record("b", "cn-hangzhou", "dir/a b+%中.jpg", 123, '"ABCDEF"')
    (payload,) = event_payloads([record])
    (parsed,) = parse_event(payload)
    wire = json.loads(payload)["events"][0]
    assert wire["eventName"] == "ObjectCreated:PutObject" and wire["eventSource"] == "acs:oss"
    assert wire["oss"]["object"] == {"key": "dir/a b+%中.jpg", "size": 123, "eTag": "ABCDEF"}
    assert (parsed.bucket, parsed.key, parsed.etag, parsed.region) == ("b", "dir/a b+%中.jpg", "ABCDEF", "cn-hangzhou")
    assert skip_reason(parsed, Settings()) is None


def test_payloads_stay_under_the_async_limit_and_keep_every_record_in_order() -> None:
    records = [make_record("b", "cn-hangzhou", f"{'x' * 900}/{i}.jpg", 1, "E") for i in range(400)]
    payloads = event_payloads(records)
    assert len(payloads) > 1
    assert all(len(p) <= ASYNC_PAYLOAD_LIMIT for p in payloads)
    assert [r.key for p in payloads for r in parse_event(p)] == [r.key for r in records]
    with pytest.raises(ValueError, match="over the"):
        event_payloads(records[:1], limit=200)


def test_token_bucket_spaces_acquisitions_at_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(10, burst=2, clock=lambda: now[0])
    assert [bucket.delay() for _ in range(2)] == [0.0, 0.0]  # the burst
    assert bucket.delay() == pytest.approx(0.1)
    now[0] = 1.0  # a second later the bucket is full again, never fuller than the burst
    assert [bucket.delay() for _ in range(2)] == [0.0, 0.0]
    assert bucket.delay() > 0


def test_staleness_reads_source_etag_then_engine() -> None:
    meta = {META_SOURCE_ETAG: "E1", META_ENGINE: "imm/x@v1"}
    assert staleness(meta, "E1", "imm/x@v1") == "up-to-date"
    assert staleness(meta, "E2", "imm/x@v1") == "stale-source"
    assert staleness(meta, "E1", "local/2") == "stale-engine"
    assert staleness({}, "E1", "imm/x@v1") == "stale-source"


def test_checkpoint_round_trips_atomically(tmp_path: Path) -> None:
    path = tmp_path / "ck.json"
    Checkpoint("b", "p/", "fc", "p/x.jpg", (("p/a.jpg", 3, "E"),)).save(path)
    assert Checkpoint.load(path) == Checkpoint("b", "p/", "fc", "p/x.jpg", (("p/a.jpg", 3, "E"),))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.json"]  # no temporary left behind
    assert Checkpoint.load(tmp_path / "none.json") is None


def test_scanner_pairs_photos_with_results_from_the_listing(stack: LocalStack) -> None:
    """Keys between a photo and its result ('a.jpg-2.jpg' sorts before 'a.jpg.faces.json') do not confuse it."""
    bucket = bucket_of(stack)
    tag = "imm/test@v1"
    put_photos(stack, ["a.jpg", "a.jpg-2.jpg", "b.png", "c.txt", "d.JPG", "e.jpg"])
    etag = {o.key: o.etag for o in oss2.ObjectIteratorV2(bucket)}
    bucket.put_object("a.jpg.faces.json", b"{}", headers={META_SOURCE_ETAG: etag["a.jpg"], META_ENGINE: tag})
    bucket.put_object("a.jpg-2.jpg.faces.json", b"{}", headers={META_SOURCE_ETAG: "OLD", META_ENGINE: tag})
    bucket.put_object("b.png.faces.json", b"{}", headers={META_SOURCE_ETAG: etag["b.png"], META_ENGINE: "imm/old"})
    bucket.put_object("empty.jpg", b"")
    heads: list[str] = []
    scanner = Scanner(bucket, "cn-hangzhou", "", Settings(), tag)
    original = scanner.check

    def counting_check(record: OssRecord) -> tuple[str, str]:
        heads.append(record.key)
        return original(record)

    scanner.check = counting_check  # type: ignore[method-assign,assignment]
    verdicts = [(c.key, c.verdict) for c in scanner]
    assert verdicts == [
        ("a.jpg", "up-to-date"),
        ("a.jpg-2.jpg", "stale-source"),
        ("b.png", "stale-engine"),
        ("d.JPG", "missing"),
        ("e.jpg", "missing"),
        ("empty.jpg", "skipped"),
    ]
    assert sorted(heads) == ["a.jpg", "a.jpg-2.jpg", "b.png"]  # only existing results are HEADed
    assert scanner.scanned == 10 and scanner.safe_position() == "empty.jpg"


# ----------------------------------------------------------------------------------------------------------- end to end


def test_dry_run_lists_what_would_be_sent_and_sends_nothing(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS[:5])
    result = cli(backfill_args(stack, tmp_path / "ck.json", "--dry-run"), env_of(stack))
    assert result.exit_code == 0, result.stderr
    listed = [line.split("\t") for line in result.stdout.splitlines()[:-1]]
    assert [(verdict, key) for verdict, key, _ in listed] == [("missing", k) for k in KEYS[:5]]
    assert summary_of(result)["to_do"] == 5 and summary_of(result)["dispatched"] == 0
    assert invoked_keys(stack) == [] and not (tmp_path / "ck.json").exists()


def test_fc2_async_then_a_second_run_sends_nothing(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS)
    first = cli(backfill_args(stack, tmp_path / "ck.json", "--rate", "500"), env_of(stack))
    assert first.exit_code == 0, first.stderr
    assert summary_of(first)["dispatched"] == len(KEYS) and summary_of(first)["invocations"] == len(KEYS)
    assert stack.wait_idle(60)
    assert all(inv.outcome == "succeeded" for inv in stack.invocations())
    assert results(stack) == {k + ".faces.json" for k in KEYS}
    assert not (tmp_path / "ck.json").exists()  # a clean run leaves no checkpoint

    second = cli(backfill_args(stack, tmp_path / "ck.json"), env_of(stack))
    assert second.exit_code == 0
    assert summary_of(second)["up_to_date"] == len(KEYS) and summary_of(second)["invocations"] == 0
    assert sorted(invoked_keys(stack)) == KEYS  # still one invocation per photo

    put_photos(stack, [KEYS[3]])  # new content: a new ETag, so that photo alone is stale
    third = cli(backfill_args(stack, tmp_path / "ck.json"), env_of(stack))
    assert summary_of(third)["verdicts"] == {"up-to-date": len(KEYS) - 1, "stale-source": 1}
    assert stack.wait_idle(30) and Counter(invoked_keys(stack))[KEYS[3]] == 2

    engine = cli(backfill_args(stack, tmp_path / "ck.json", "--dry-run", "--engine-tag", "local/next"), env_of(stack))
    assert summary_of(engine)["verdicts"] == {"stale-engine": len(KEYS)}


def test_batched_events_carry_several_records(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS[:10])
    result = cli(backfill_args(stack, tmp_path / "ck.json", "--batch", "4"), env_of(stack))
    assert summary_of(result)["invocations"] == 3 and summary_of(result)["dispatched"] == 10
    assert stack.wait_idle(30) and sorted(invoked_keys(stack)) == KEYS[:10]
    assert results(stack) == {k + ".faces.json" for k in KEYS[:10]}


def test_local_worker_pool(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS)
    args = ["backfill", stack.bucket, "--region", stack.oss.region, "--oss-endpoint", stack.oss.endpoint, "--in-process",
            "--workers", "4", "--checkpoint", str(tmp_path / "ck.json"), "--no-progress", "--json"]  # fmt: skip
    first = cli(args, env_of(stack))
    assert first.exit_code == 0, first.stderr
    assert summary_of(first)["verdicts"]["local processed"] == len(KEYS)
    assert results(stack) == {k + ".faces.json" for k in KEYS} and invoked_keys(stack) == []
    doc = json.loads(bucket_of(stack).get_object(KEYS[0] + ".faces.json").read())
    assert doc["Source"]["Key"] == KEYS[0] and doc["Faces"][0]["Gender"] == "FEMALE"
    second = cli(args, env_of(stack))
    assert summary_of(second)["up_to_date"] == len(KEYS) and summary_of(second)["dispatched"] == 0


@pytest.mark.slow
def test_stopped_half_way_and_resumed_sends_each_photo_once(tmp_path: Path, cli: CLI) -> None:
    """The function is slow (deliveries held 2 s): on resume no result exists yet, only the checkpoint prevents re-sending."""
    stack = make_stack(tmp_path, DeliveryPolicy(delay_s=2.0))
    try:
        put_photos(stack, KEYS)
        checkpoint = tmp_path / "ck.json"
        first = cli(backfill_args(stack, checkpoint, "--stop-after", "10", "--workers", "1"), env_of(stack))
        assert first.exit_code == 3, first.stderr  # stopped early
        assert summary_of(first)["dispatched"] == 10 and checkpoint.exists()
        assert Checkpoint.load(checkpoint).after == KEYS[9]  # type: ignore[union-attr]
        assert results(stack) == set()  # nothing processed yet

        second = cli(backfill_args(stack, checkpoint), env_of(stack))
        assert second.exit_code == 0, second.stderr
        assert summary_of(second)["resumed_after"] == KEYS[9] and summary_of(second)["dispatched"] == 15
        assert sorted(invoked_keys(stack)) == KEYS  # no duplicate, no miss
        assert stack.wait_idle(60) and results(stack) == {k + ".faces.json" for k in KEYS}
        assert not checkpoint.exists()
    finally:
        stack.stop()


@pytest.mark.slow
def test_killed_process_resumes_without_duplicates_or_misses(tmp_path: Path, cli: CLI) -> None:
    """A real process, SIGTERMed mid-run: it finishes what is in flight, saves the checkpoint, exits 3."""
    stack = make_stack(tmp_path, DeliveryPolicy(delay_s=5.0))
    try:
        keys = [f"k/{i:03d}.jpg" for i in range(60)]
        put_photos(stack, keys)
        checkpoint = tmp_path / "ck.json"
        env = {**os.environ, **env_of(stack)}
        command = [sys.executable, "-m", "ossfaces_tools.commands", *backfill_args(stack, checkpoint, "--rate", "40")]
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(invoked_keys(stack)) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 3, err.decode()
        sent_first = len(invoked_keys(stack))
        assert 15 <= sent_first < len(keys)

        second = cli(backfill_args(stack, checkpoint), env_of(stack))
        assert second.exit_code == 0, second.stderr
        assert summary_of(second)["dispatched"] == len(keys) - sent_first
        assert sorted(invoked_keys(stack)) == keys  # no duplicate, no miss
    finally:
        stack.stop()


def test_failures_exit_non_zero_and_are_retried_from_the_checkpoint(
    stack: LocalStack, cli: CLI, tmp_path: Path
) -> None:
    put_photos(stack, KEYS[:6])
    checkpoint = tmp_path / "ck.json"
    args = backfill_args(stack, checkpoint)
    wrong = [a if a != stack.function().name else "no-such-function" for a in args]
    failed = cli(wrong, env_of(stack))  # a failure every photo would meet: one line, the run stops at once
    assert failed.exit_code == 1
    assert failed.stderr.count("\n") == 1 and "has no such function" in failed.stderr, failed.stderr
    saved = Checkpoint.load(checkpoint)
    assert saved is not None and saved.failed  # each photo is in the failed list or after the checkpoint's place
    assert all(k in {f for f, _, _ in saved.failed} or k > (saved.after or "") for k in KEYS[:6])

    retried = cli(args, env_of(stack))  # the same checkpoint file, the right function
    assert retried.exit_code == 0, retried.stderr
    assert summary_of(retried)["retried"] == len(saved.failed) and summary_of(retried)["dispatched"] == 6
    assert sorted(invoked_keys(stack)) == KEYS[:6] and not checkpoint.exists()


def test_bad_credentials_are_a_clear_error(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    result = cli(backfill_args(stack, tmp_path / "ck.json"), {"ALIBABA_CLOUD_ACCESS_KEY_ID": "x",
                                                             "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "y"})  # fmt: skip
    assert result.exit_code != 0 and "InvalidAccessKeyId" in result.stderr
