"""Claims left by a crash (issue 11 item 3): backfill says why a photo failed, and can wait for the claim to expire.

The claim is the real object the function creates before analysing (``<key>.faces.json.claim``, created with
``x-oss-forbid-overwrite``, its expiry in ``x-oss-meta-ossfaces-claim-expires``), left in the local OSS as a crashed
instance leaves it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import oss2
import pytest
from click.testing import Result

from ossfaces.idempotency import CLAIM_SUFFIX, META_EXPIRES, META_SOURCE_ETAG
from ossfaces_localstack.stack import LocalStack

from .conftest import bucket_of, env_of, put_photos, results, summary_of

CLI = Callable[..., Result]
KEYS = [f"claims/{i:02d}.jpg" for i in range(4)]


def leave_claim(bucket: oss2.Bucket, key: str, expires_in: float) -> str:
    """The claim a crashed invocation leaves behind (as ``idempotency.claimed`` writes it, never released)."""
    claim = key + ".faces.json" + CLAIM_SUFFIX
    etag = bucket.head_object(key).etag
    bucket.put_object(claim, b"", headers={"x-oss-forbid-overwrite": "true", META_SOURCE_ETAG: etag,
                                           META_EXPIRES: str(int(time.time() + expires_in))})  # fmt: skip
    return claim


def local_args(stack: LocalStack, tmp_path: Path, *extra: str) -> list[str]:
    return ["backfill", stack.bucket, "--prefix", "claims/", "--region", stack.oss.region, "--oss-endpoint",
            stack.oss.endpoint, "--in-process", "--workers", "2", "--checkpoint", str(tmp_path / "ck.json"), "--no-progress",
            "--no-count", "--json", *extra]  # fmt: skip


def test_a_live_claim_fails_the_photo_with_its_reason_and_expiry(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS)
    claim = leave_claim(bucket_of(stack), KEYS[1], expires_in=600)
    result = cli(local_args(stack, tmp_path), env_of(stack))
    assert result.exit_code == 1
    assert summary_of(result)["failed"] == 1 and summary_of(result)["verdicts"]["local processed"] == 3
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert line.startswith(f"failed {KEYS[1]}: live claim {claim}")
    expires = re.search(r"expires at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ), in (\d+) s\)", line)
    assert expires and 590 <= int(expires.group(2)) <= 600, line
    assert "--wait-claims" in line
    assert results(stack) == {k + ".faces.json" for k in KEYS if k != KEYS[1]}


@pytest.mark.slow
def test_wait_claims_waits_for_a_live_claim_to_expire_then_takes_it_over(
    stack: LocalStack, cli: CLI, tmp_path: Path
) -> None:
    put_photos(stack, KEYS)
    claim = leave_claim(bucket_of(stack), KEYS[2], expires_in=3)
    started = time.monotonic()
    result = cli(local_args(stack, tmp_path, "--wait-claims"), env_of(stack))
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started >= 2
    assert summary_of(result)["failed"] == 0 and summary_of(result)["verdicts"]["local processed"] == 4
    assert f"waiting for live claim {claim}" in result.stderr
    assert results(stack) == {k + ".faces.json" for k in KEYS}
    assert not bucket_of(stack).object_exists(claim)  # taken over by the pipeline, then released


def test_wait_claims_gives_up_after_max_wait_with_the_reason(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS[:2])
    leave_claim(bucket_of(stack), KEYS[0], expires_in=600)
    result = cli(local_args(stack, tmp_path, "--wait-claims", "--max-claim-wait", "1"), env_of(stack))
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert line.startswith(f"failed {KEYS[0]}: live claim") and "waited 1 s" in line


def test_an_expired_claim_does_not_block(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS)
    leave_claim(bucket_of(stack), KEYS[0], expires_in=-5)
    result = cli(local_args(stack, tmp_path), env_of(stack))
    assert result.exit_code == 0, result.stderr
    assert results(stack) == {k + ".faces.json" for k in KEYS}


def test_fc_mode_holds_back_a_live_claim_instead_of_sending_it(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    """Through fc2 the function would fail on the claim and FC retry it into the lease: say so up front."""
    from .conftest import backfill_args, invoked_keys

    put_photos(stack, KEYS)
    claim = leave_claim(bucket_of(stack), KEYS[3], expires_in=600)
    result = cli([*backfill_args(stack, tmp_path / "ck.json"), "--prefix", "claims/"], env_of(stack))
    assert result.exit_code == 1
    assert sorted(invoked_keys(stack)) == KEYS[:3]
    assert f"failed {KEYS[3]}: live claim {claim}" in result.stderr


def test_every_failure_line_carries_its_reason(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    from .conftest import backfill_args

    put_photos(stack, KEYS[:2])
    args = [*backfill_args(stack, tmp_path / "ck.json"), "--prefix", "claims/"]
    wrong = [a if a != stack.function().name else "no-such-function" for a in args]
    result = cli(wrong, env_of(stack))  # a failure every photo would meet: said once, with its reason, then stop
    (line,) = result.stderr.splitlines()
    assert re.match(r"Error: FC at \S+ has no such function \(404 FunctionNotFound: .*no-such-function", line), line
