"""``--inventory`` in the tools: backfill (and its estimate before it starts), index and stats read an inventory
report written by the local OSS instead of listing the bucket, with the same outcome; ``ossfaces inventory``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import oss2
import pytest
from click.testing import Result

from ossfaces_localstack.stack import LocalStack

from .conftest import backfill_args, bucket_of, env_of, invoked_keys, put_photos, summary_of
from .test_index import random_documents

CLI = Callable[..., Result]
KEYS = [f"photos/{i:03d}.jpg" for i in range(12)]


def inventory_of(stack: LocalStack, cli: CLI, prefix: str = "") -> str:
    """A rule on the stack's bucket and its report, through the commands; the manifest's oss:// address."""
    stack.oss.storage.create_bucket("inv-dest")
    where = [stack.bucket, "--oss-endpoint", stack.oss.endpoint]
    put = cli(["inventory", "put", *where, "--id", "daily", "--destination", "inv-dest", "--destination-prefix",
               "reports", *(["--prefix", prefix] if prefix else [])], env=env_of(stack))  # fmt: skip
    assert put.exit_code == 0, put.stderr
    listed = cli(["inventory", "list", *where], env=env_of(stack))
    assert listed.stdout.startswith("daily\tenabled\tDaily\t") and "oss://inv-dest/reports" in listed.stdout
    ran = cli(["inventory", "run", *where, "--id", "daily"], env=env_of(stack))
    assert ran.exit_code == 0, ran.stderr
    return f"oss://inv-dest/{ran.stdout.strip()}"


def test_backfill_from_an_inventory(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS)
    report = inventory_of(stack, cli)
    args = backfill_args(stack, tmp_path / "cp.json", "--inventory", report, "--rate", "50", "--batch", "2", "--count")
    result = cli(args, env=env_of(stack))
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert f"{len(KEYS)} objects to look at: at most 0 s at --rate 50 x --batch 2 = 100 photos/s" in said
    assert "FC runs 100 instances per region by default" in said
    assert summary_of(result)["dispatched"] == len(KEYS)
    assert sorted(invoked_keys(stack)) == KEYS
    latest = cli(backfill_args(stack, tmp_path / "cp2.json", "--inventory", "latest", "--dry-run"), env=env_of(stack))
    assert latest.exit_code == 0, latest.stderr
    assert "inventory oss://inv-dest/reports/" in " ".join(latest.stderr.split())


def test_a_report_without_etags_is_refused_for_backfill(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    put_photos(stack, KEYS[:2])
    stack.oss.storage.create_bucket("inv-dest")
    bucket = bucket_of(stack)
    config = b"""<InventoryConfiguration><Id>bare</Id><IsEnabled>true</IsEnabled><Destination><OSSBucketDestination>
<Format>CSV</Format><AccountId>1</AccountId><RoleArn>acs:ram::1:role/r</RoleArn><Bucket>acs:oss:::inv-dest</Bucket>
</OSSBucketDestination></Destination><Schedule><Frequency>Weekly</Frequency></Schedule>
<IncludedObjectVersions>Current</IncludedObjectVersions></InventoryConfiguration>"""
    bucket._do("PUT", stack.bucket, "", data=config, params={"inventory": "", "inventoryId": "bare"})
    ran = cli(
        ["inventory", "run", stack.bucket, "--oss-endpoint", stack.oss.endpoint, "--id", "bare"], env=env_of(stack)
    )
    result = cli(
        backfill_args(stack, tmp_path / "cp.json", "--inventory", f"oss://inv-dest/{ran.stdout.strip()}"),
        env=env_of(stack),
    )
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and "has no Size or ETag column" in said and "Traceback" not in said


def test_index_and_stats_from_an_inventory(
    stack: LocalStack, cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSSFACES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    bucket = bucket_of(stack)
    random_documents(bucket, 20, seed=21, prefix="inv/")
    report = inventory_of(stack, cli, prefix="inv/")
    where = [stack.bucket, "--prefix", "inv/", "--oss-endpoint", stack.oss.endpoint]
    built = cli(["index", *where, "--inventory", report, "--workers", "1", "--json"], env=env_of(stack))
    assert built.exit_code == 0, built.stderr
    assert json.loads(built.stdout.splitlines()[-1])["read"] == 20 and f"inventory {report}" in " ".join(
        built.stderr.split()
    )
    indexed = cli(["stats", *where, "--json", "--no-progress"], env=env_of(stack))
    scanned = cli(["stats", *where, "--json", "--no-progress", "--source", "scan"], env=env_of(stack))
    from_report = cli(["stats", *where, "--json", "--no-progress", "--inventory", report], env=env_of(stack))
    assert json.loads(indexed.stdout) == json.loads(scanned.stdout) == json.loads(from_report.stdout)
    assert "from the face index" not in from_report.stderr  # --inventory means the scan, of the report's results


def test_run_is_refused_by_a_real_oss_shape(stack: LocalStack, cli: CLI) -> None:
    missing = cli(
        ["inventory", "run", stack.bucket, "--oss-endpoint", stack.oss.endpoint, "--id", "nope"], env=env_of(stack)
    )
    assert missing.exit_code == 1 and "404 NoSuchInventory" in missing.stderr
    assert isinstance(oss2.Bucket, type)
