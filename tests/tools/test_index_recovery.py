"""The face index when things go wrong: a part cut by a crash, two runs at once, a run killed half-way; and the
commands (``ossfaces index``, ``ossfaces query``, ``ossfaces stats --source index``). No face counted twice or lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oss2
import pytest
from click.testing import Result

from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.index.build import BuildOptions, build_index
from ossfaces_tools.index.fanout import LocalPool
from ossfaces_tools.index.layout import IndexConflict, IndexDamaged, IndexStore, PartInfo

from .test_index import SUFFIX, access, from_index, random_documents, same, scan

CLI = Callable[..., Result]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSSFACES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def pool(local_oss: LocalOss) -> LocalPool:
    return LocalPool(access(local_oss), workers=1)


def test_a_part_cut_by_a_crash_is_refused_then_repaired(
    local_oss: LocalOss, oss_bucket: oss2.Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    random_documents(oss_bucket, 40, seed=5)
    build_index(oss_bucket, "", SUFFIX, pool(local_oss), BuildOptions(chunk=10))
    part = IndexStore(oss_bucket, "").load().parts[1]
    body = oss_bucket.get_object(part.key).read()
    oss_bucket.put_object(part.key, body[: len(body) // 2])  # what a writer killed mid-file would leave
    monkeypatch.setenv("OSSFACES_CACHE_DIR", str(tmp_path / "fresh-cache"))
    with pytest.raises(IndexDamaged, match=r"cut or replaced; run `ossfaces index test-bucket` to repair it"):
        from_index(oss_bucket)
    summary = build_index(oss_bucket, "", SUFFIX, pool(local_oss), BuildOptions(chunk=10))
    assert summary.repaired and summary.read == part.photos  # exactly that part's photos read again
    same(from_index(oss_bucket), scan(oss_bucket))


class RacingPool(LocalPool):
    """Writes this run's parts, then lets a whole second run commit before this one can."""

    def __init__(self, local_oss: LocalOss, bucket: oss2.Bucket) -> None:
        super().__init__(access(local_oss), workers=1)
        self.local_oss, self.bucket = local_oss, bucket
        self.written: list[PartInfo] = []

    def run(self, store: IndexStore, keys: list[str], events: list[dict[str, Any]], *args: Any) -> list[PartInfo]:
        self.written = super().run(store, keys, events, *args)
        other = build_index(
            self.bucket, "", SUFFIX, pool(self.local_oss), BuildOptions(chunk=7, checkpoint=Path("other.json"))
        )
        assert other.generation == 1 and other.read == 30
        return self.written


def test_two_runs_at_once_count_every_face_once(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    random_documents(oss_bucket, 30, seed=6)
    racing = RacingPool(local_oss, oss_bucket)
    with pytest.raises(IndexConflict, match="another index run committed generation 1"):
        build_index(oss_bucket, "", SUFFIX, racing, BuildOptions(chunk=10))
    assert racing.written and not any(oss_bucket.object_exists(p.key) for p in racing.written)  # the loser cleaned up
    assert IndexStore(oss_bucket, "").load().generation == 1
    same(from_index(oss_bucket), scan(oss_bucket))
    assert build_index(oss_bucket, "", SUFFIX, pool(local_oss), BuildOptions()).read == 0


class KilledPool(LocalPool):
    """Writes the first ``survive`` parts, then dies like a killed coordinator."""

    def __init__(self, local_oss: LocalOss, survive: int) -> None:
        super().__init__(access(local_oss), workers=1)
        self.survive = survive

    def run(self, store: IndexStore, keys: list[str], events: list[dict[str, Any]], *args: Any) -> list[PartInfo]:
        super().run(store, keys[: self.survive], events[: self.survive], *args)
        raise KeyboardInterrupt


def test_a_killed_run_resumes_with_the_same_parts(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    random_documents(oss_bucket, 50, seed=7)
    with pytest.raises(KeyboardInterrupt):
        build_index(oss_bucket, "", SUFFIX, KilledPool(local_oss, survive=3), BuildOptions(chunk=10))
    written = {o.key for o in oss2.ObjectIteratorV2(oss_bucket, prefix=".ossfaces/index/parts/")}
    assert len(written) == 3
    resumed = build_index(oss_bucket, "", SUFFIX, pool(local_oss), BuildOptions(chunk=10))
    assert resumed.resumed and resumed.generation == 1 and resumed.parts_written == 5
    assert written <= {p.key for p in IndexStore(oss_bucket, "").load().parts}  # the first three were kept, not redone
    same(from_index(oss_bucket), scan(oss_bucket))


def env_of(local_oss: LocalOss) -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": local_oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": local_oss.access_key_secret}  # fmt: skip


def test_commands(local_oss: LocalOss, oss_bucket: oss2.Bucket, cli: CLI) -> None:
    random_documents(oss_bucket, 25, seed=8, prefix="lib/")
    where = ["test-bucket", "--prefix", "lib/", "--oss-endpoint", local_oss.endpoint]
    built = cli(["index", *where, "--workers", "1", "--chunk", "10", "--json", "--compact"], env=env_of(local_oss))
    assert built.exit_code == 0, built.stderr
    summary = json.loads(built.stdout.splitlines()[-1])
    assert summary["read"] == 25 and summary["compacted"]["parts_after"] == 1
    assert "reading 25 new or changed" in built.stderr
    again = json.loads(cli(["index", *where, "--json"], env=env_of(local_oss)).stdout.splitlines()[-1])
    assert again["read"] == 0
    scanned = cli(["stats", *where, "--json", "--no-progress", "--source", "scan"], env=env_of(local_oss))
    indexed = cli(["stats", *where, "--json", "--no-progress"], env=env_of(local_oss))
    assert "from the face index (generation 2" in indexed.stderr
    assert json.loads(indexed.stdout) == json.loads(scanned.stdout)
    photos = json.loads(scanned.stdout)["overall"]["documents"] + json.loads(scanned.stdout)["overall"]["unreadable"]
    counted = cli(["query", *where, "SELECT count(*) AS n FROM photos", "--json"], env=env_of(local_oss))
    assert json.loads(counted.stdout) == {"n": photos}
    bad = cli(["query", *where, "SELECT nope FROM faces"], env=env_of(local_oss))
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: query: Binder Error") and "Traceback" not in bad.stderr
    none = cli(
        ["stats", "test-bucket", "--prefix", "other/", "--oss-endpoint", local_oss.endpoint, "--source", "index"],
        env=env_of(local_oss),
    )
    assert none.exit_code == 1 and "no face index under oss://test-bucket/other/.ossfaces/index/" in none.stderr
