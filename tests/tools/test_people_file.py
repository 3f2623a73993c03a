"""A people file that cannot be read stops every command with one line naming it and the way out, and a run with
``--discard-unreadable`` recovers (issue 19 item 3). Each case is a hand edit or a broken copy in the real local OSS,
driven through the real ``ossfaces`` commands; a person forgotten before the damage stays forgotten after it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import oss2
import pytest
from click.testing import CliRunner, Result

from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.commands import main

from .people_support import document, face_json, faces_of, identities

Edit = tuple[str, bytes | None]


def library(bucket: oss2.Bucket, prefix: str) -> None:
    """Three people, four photos each."""
    rng = np.random.default_rng(31)
    for i, vector in enumerate(faces_of(identities(3, rng), np.repeat(np.arange(3), 4), rng)):
        key = f"{prefix}{'abc'[i // 4]}-{i % 4}.jpg"
        bucket.put_object(key + ".faces.json", document(key, [face_json(vector, box=(40, 50, 120, 140))]))


def good_file(bucket: oss2.Bucket, prefix: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(bucket.get_object(f"{prefix}.ossfaces/people.json").read())
    return value


def edited(change: str) -> bytes | None:
    """The hand edits (None: the file is left as it is, the damage is elsewhere)."""
    return {"not JSON": b'{"Format": "ossfaces-people/2", "Generation": 3,', "empty": b"", "an array": b"[]",
            "another format": json.dumps({"Format": "faces/9", "Generation": 1, "NextId": 2}).encode()}.get(change)  # fmt: skip


def broken(bucket: oss2.Bucket, prefix: str, case: str) -> tuple[str, str]:
    """Damage the people file of ``prefix`` as ``case`` says; return the object named and a word of the reason."""
    key = f"{prefix}.ossfaces/people.json"
    data = good_file(bucket, prefix)
    body = edited(case)
    if case == "a person id that is not a number":
        data["People"]["ann"] = data["People"].pop(next(iter(data["People"])))
        body, reason = json.dumps(data).encode(), "People.ann: a person id is a whole number"
    elif case == "a face of nobody":
        next(iter(data["Photos"].values()))["Faces"] = [99]
        body, reason = json.dumps(data).encode(), "Faces: no person 99"
    elif case == "a wrong type":
        data["NextId"] = "ten"
        body, reason = json.dumps(data).encode(), "NextId: Input should be a valid integer"
    elif case == "every copy":
        generation = f"{prefix}.ossfaces/people.generations/{data['Generation']:012d}.json"
        bucket.put_object(generation, b"[1, 2")
        body, reason = b"{}", "Format is None"
    elif case == "a garbage newer generation":
        key = f"{prefix}.ossfaces/people.generations/{data['Generation'] + 5:012d}.json"
        body, reason = b"\x00\x01 not a people file", "not JSON"
    else:
        reason = {"not JSON": "not JSON", "empty": "not JSON", "an array": "a JSON list, not an object",
                  "another format": "Format is 'faces/9'"}[case]  # fmt: skip
    assert body is not None
    bucket.put_object(key, body)
    return key, reason


CASES = ["not JSON", "empty", "an array", "another format", "a person id that is not a number", "a face of nobody",
         "a wrong type", "a garbage newer generation", "every copy"]  # fmt: skip


def run(oss: LocalOss, argv: list[str]) -> Result:
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret}
    return CliRunner(mix_stderr=False).invoke(main, argv, env=env, catch_exceptions=True)


def one_line(result: Result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code not in (0, None) and "Traceback" not in result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("case", CASES)
def test_an_unreadable_people_file_is_one_line_and_a_run_recovers(
    case: str, local_oss: LocalOss, oss_bucket: oss2.Bucket
) -> None:
    prefix = "c/"
    where = ["--prefix", prefix, "--region", local_oss.region, "--oss-endpoint", local_oss.endpoint]
    library(oss_bucket, prefix)
    assert run(local_oss, ["people", "test-bucket", *where, "--no-progress"]).exit_code == 0
    photos = good_file(oss_bucket, prefix)["Photos"]
    ann, gone = photos[f"{prefix}a-0.jpg"]["Faces"][0], photos[f"{prefix}b-0.jpg"]["Faces"][0]
    assert run(local_oss, ["people", "name", "test-bucket", str(ann), "Ann", *where]).exit_code == 0
    assert run(local_oss, ["people", "forget", "test-bucket", str(gone), "--yes", *where]).exit_code == 0
    key, reason = broken(oss_bucket, prefix, case)

    for argv in (["people", "test-bucket", *where, "--no-progress"], ["people", "name", "test-bucket", "1", "x", *where],
                 ["people", "forget", "test-bucket", "1", "--yes", *where],
                 ["stats", "test-bucket", *where, "--no-progress", "--by", "person"]):  # fmt: skip
        line = one_line(run(local_oss, argv))
        assert line.startswith(f"Error: oss://test-bucket/{key} cannot be read: ") and reason in line, line
        assert "`ossfaces people test-bucket --prefix c/ --discard-unreadable`" in line, line

    recovered = run(local_oss, ["people", "test-bucket", *where, "--no-progress", "--json", "--discard-unreadable"])
    assert recovered.exit_code == 0, recovered.stderr
    aside = [o.key for o in oss2.ObjectIteratorV2(oss_bucket, prefix=f"{prefix}.ossfaces/unreadable/")]
    assert len(aside) == (2 if case == "every copy" else 1), aside
    assert aside[-1].startswith(f"{prefix}.ossfaces/unreadable/{key.rsplit('/', 1)[-1]}.")
    people = {p["id"]: p for p in json.loads(recovered.stdout.splitlines()[0])["people"]}
    holders = {k for k, e in good_file(oss_bucket, prefix)["Photos"].items() if any(e["Faces"])}
    assert not any(k.startswith(f"{prefix}b-") for k in holders)  # forgotten faces stay forgotten
    assert len(people) == 2
    names = sorted(str(p["name"]) for p in people.values())
    assert names == (["None", "None"] if case == "every copy" else ["Ann", "None"]), names  # the newest readable copy
    again = run(local_oss, ["people", "test-bucket", *where, "--no-progress", "--json"])
    assert again.exit_code == 0 and not json.loads(again.stdout.splitlines()[0])["update"]["changed"]


def test_a_stranger_file_among_the_generations_is_left_alone(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    where = ["--prefix", "s/", "--region", local_oss.region, "--oss-endpoint", local_oss.endpoint, "--no-progress"]
    library(oss_bucket, "s/")
    assert run(local_oss, ["people", "test-bucket", *where]).exit_code == 0
    oss_bucket.put_object("s/.ossfaces/people.generations/notes.json", b"my notes")
    oss_bucket.put_object("s/.ossfaces/people.generations/9.json", b"{}")
    assert run(local_oss, ["people", "test-bucket", *where, "--rebuild"]).exit_code == 0
    assert oss_bucket.get_object("s/.ossfaces/people.generations/notes.json").read() == b"my notes"


def test_the_file_written_one_photo_at_a_time_is_the_whole_state_as_json() -> None:
    """``dumps`` encodes photo by photo and ``loads`` checks photo by photo (a million photos' dicts and models at
    once were gigabytes): the bytes are still exactly ``json.dumps(to_json())``, read back to the same state."""
    from ossfaces_tools.people.state import PeopleState, Person, PhotoEntry

    state = PeopleState(generation=4, next_id=9, figures={"fig-ü": 3}, forgotten_people=[7], forget_pending=["b.jpg"])
    state.people = {1: Person("Zoë \"Z\"", created="2024-01-01T00:00:00Z"), 2: Person(hidden=True, merged_into=1),
                    3: Person(created="2024-01-02T00:00:00Z")}  # fmt: skip
    state.photos = {"z/ü 1.jpg": PhotoEntry("E1", "local/1", ((1, 2, 3, 4), (5, 6, 7, 8)), [1, None], pinned=(0,)),
                    "a.jpg": PhotoEntry("E2", "imm/v2", ((0, 0, 9, 9),), [3], forgotten=((0, 0, 9, 9),)),
                    "b.jpg": PhotoEntry("E3", "", (), [], forgotten=((1, 1, 5, 5),))}  # fmt: skip
    body = state.dumps()
    assert body == json.dumps(state.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
    assert PeopleState.loads(body).dumps() == body
    bad = json.loads(body)
    bad["Photos"]["z/ü 1.jpg"]["Faces"] = ["x"]  # photos are checked one at a time: the message still names the photo
    with pytest.raises(ValueError, match=r"^Photos\.z/ü 1\.jpg\.Faces\.0: Input should be a valid integer"):
        PeopleState.loads(json.dumps(bad).encode())
    assert (
        PeopleState().dumps() == json.dumps(PeopleState().to_json(), ensure_ascii=False, separators=(",", ":")).encode()
    )
