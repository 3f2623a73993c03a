"""The face index against the local OSS: built by the real part writer on a local process pool, incremental, and
answering ``stats`` with exactly the numbers of the per-result scan."""

from __future__ import annotations

import random
from pathlib import Path

import oss2
import pytest

from ossfaces.document import EMOTIONS, EngineInfo, Face, FacesDocument, SourceInfo
from ossfaces.embedding import embedding_field
from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.access import BucketAccess
from ossfaces_tools.index.build import BuildOptions, build_index
from ossfaces_tools.index.fanout import LocalPool
from ossfaces_tools.index.layout import IndexStore
from ossfaces_tools.index.local import IndexReader
from ossfaces_tools.index.query import index_stats
from ossfaces_tools.stats import AgeBins, StatsAccumulator, collect, read_documents

from .synthetic import upload

SUFFIX = ".faces.json"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSSFACES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # checkpoints land here


def access(local_oss: LocalOss) -> BucketAccess:
    return BucketAccess("test-bucket", oss_endpoint=local_oss.endpoint, access_key_id=local_oss.access_key_id,
                        access_key_secret=local_oss.access_key_secret)  # fmt: skip


def build(local_oss: LocalOss, bucket: oss2.Bucket, prefix: str = "", chunk: int = 3) -> object:
    return build_index(bucket, prefix, SUFFIX, LocalPool(access(local_oss), workers=2), BuildOptions(chunk=chunk))


def scan(bucket: oss2.Bucket, prefix: str = "", depth: int = 0, bins: AgeBins | None = None) -> StatsAccumulator:
    return collect(read_documents(bucket, prefix, SUFFIX, workers=4), StatsAccumulator(bins, depth))


def from_index(bucket: oss2.Bucket, prefix: str = "", depth: int = 0, bins: AgeBins | None = None) -> StatsAccumulator:
    with IndexReader(IndexStore(bucket, prefix)) as reader:
        return index_stats(reader.con, bins, depth)


def same(a: StatsAccumulator, b: StatsAccumulator) -> None:
    assert a.report().to_dict() == b.report().to_dict()


def random_documents(bucket: oss2.Bucket, n: int, seed: int, prefix: str = "lib/") -> list[str]:
    """Documents of every kind the engines write: faces with all attributes, none, errors, embeddings, unreadable."""
    rng = random.Random(seed)
    keys = []
    for i in range(n):
        key = f"{prefix}{rng.choice(['a', 'b/c', 'b/d/e', ''])}/{seed}-{i}.jpg".replace("//", "/")
        keys.append(key)
        if rng.random() < 0.05:
            bucket.put_object(key + SUFFIX, b'{"Faces": [')
            continue
        source, engine = SourceInfo(Key=key, ETag=f"E{i}"), EngineInfo(Name=rng.choice(["local", "imm"]), Version="v1")
        if rng.random() < 0.05:
            doc = FacesDocument(Source=source, Engine=engine, Error={"Code": "InvalidImage.Corrupt", "Message": "x"})
        else:
            faces = [
                Face(Age=rng.choice([None, -1, *range(0, 90)]), AgeSD=rng.choice([None, 0, 2.5, 7.25]),
                     Gender=rng.choice([None, "MALE", "female", "other"]), Emotion=rng.choice([None, "", *EMOTIONS]),
                     FaceQuality=rng.random(), GenderConfidence=rng.random(),
                     FaceAttributes={"FaceBoundary": {"Left": 1, "Top": 2, "Width": 80, "Height": 90}},
                     Embedding=embedding_field([rng.gauss(0, 1) for _ in range(128)], can_seed=rng.random() < 0.5)
                     if rng.random() < 0.7 else None)
                for _ in range(rng.choice([0, 1, 1, 2, 3]))
            ]  # fmt: skip
            doc = FacesDocument(Source=source, Engine=engine, Faces=faces)
        bucket.put_object(key + SUFFIX, doc.to_json())
    return keys


@pytest.mark.slow
def test_stats_from_the_index_equal_the_scan(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    upload(oss_bucket)  # the hand-counted set, and random documents of every kind
    random_documents(oss_bucket, 120, seed=1)
    summary = build(local_oss, oss_bucket)
    assert summary.read == summary.listed == 9 + 120 and summary.generation == 1  # type: ignore[attr-defined]
    for depth in (0, 1, 2):
        same(from_index(oss_bucket, depth=depth), scan(oss_bucket, depth=depth))
    bins = AgeBins.parse("0,18,40")
    same(from_index(oss_bucket, bins=bins, depth=1), scan(oss_bucket, bins=bins, depth=1))


def test_incremental_reads_only_what_is_new_or_changed(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    keys = random_documents(oss_bucket, 60, seed=2)
    assert build(local_oss, oss_bucket).read == 60  # type: ignore[attr-defined]
    again = build(local_oss, oss_bucket)
    assert (again.read, again.generation, again.parts_written) == (0, 1, 0)  # type: ignore[attr-defined]
    random_documents(oss_bucket, 3, seed=3)  # 3 new
    changed = keys[0] + SUFFIX
    oss_bucket.put_object(
        changed, FacesDocument(Source=SourceInfo(Key=keys[0]), Engine=EngineInfo(Name="imm", Version="v2")).to_json()
    )
    oss_bucket.delete_object(keys[1] + SUFFIX)  # one gone
    third = build(local_oss, oss_bucket)
    assert (third.read, third.superseded, third.generation) == (4, 2, 2)  # type: ignore[attr-defined]
    same(from_index(oss_bucket), scan(oss_bucket))
    with IndexReader(IndexStore(oss_bucket, "")) as reader:
        assert reader.con.execute("SELECT count(*) FROM photos WHERE key = ?", [keys[0]]).fetchone() == (
            1,
        )  # the changed photo counts once, with its new result


def test_people_read_the_same_faces_from_the_index(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    from ossfaces_tools.people.faces import collect_faces, faces_from_index, load_faces

    random_documents(oss_bucket, 80, seed=4)
    scanned = collect_faces(read_documents(oss_bucket, "", SUFFIX, workers=4))
    build(local_oss, oss_bucket)
    with IndexReader(IndexStore(oss_bucket, "")) as reader:
        indexed = faces_from_index(reader.con)
    for column in ("keys", "photos", "photo", "index", "can_seed", "figure", "gender",
                   "gender_confidence", "box", "quality", "has_embedding", "other_model"):  # fmt: skip
        assert getattr(indexed, column) == getattr(scanned, column), column
    assert [a == b or (a != a and b != b) for a, b in zip(indexed.age, scanned.age, strict=True)] == [True] * len(
        scanned
    )
    assert (indexed.embeddings() == scanned.embeddings()).all() and len(scanned) > 50
    assert load_faces(oss_bucket, "", SUFFIX, 4, indexed.model).keys == indexed.keys  # people's source: the index
