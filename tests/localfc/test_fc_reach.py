"""Which keys reach the function: the project's own triggers (s.yaml, template.yml), read and matched by the local FC
exactly as FC would, against the function's own accept rule, for every image suffix in every case users produce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import oss2
import pytest

from ossfaces.events import parse_event
from ossfaces.settings import DEFAULT_IMAGE_SUFFIXES, Settings
from ossfaces_localstack.fc.descriptors import load_triggers
from ossfaces_localstack.fc.reach import function_accepts, key_table, reaching, settings_of
from ossfaces_localstack.fc.triggers import case_variants, image_pattern
from ossfaces_localstack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
USER_CASES = (".jpg", ".JPG", ".Jpg")  # the shapes of case_variants: editors write .Jpg, cameras and phones .JPG


def test_case_variants_are_the_cases_users_produce() -> None:
    assert case_variants(".heic") == (".heic", ".HEIC", ".Heic")
    assert case_variants(".jpg") == USER_CASES


@pytest.mark.parametrize("descriptor", ["s.yaml", "template.yml"])
def test_every_accepted_suffix_in_every_case_reaches_the_function(descriptor: str) -> None:
    triggers = load_triggers([ROOT / descriptor])
    settings = settings_of(triggers[0].function)
    assert set(Settings().image_suffixes) <= set(settings.image_suffixes)  # the deployed env keeps the one list
    keys = key_table(Settings())
    reached = reaching(triggers, keys)
    missing = [k for k in keys if function_accepts(k, settings) and k not in reached]
    assert missing == [], f"{descriptor}: accepted by the function, never delivered: {missing}"
    results = [k for k in reached if k.endswith((settings.result_suffix, ".claim"))]
    assert results == [], f"{descriptor}: the function's own writes fire it: {results}"


def test_s_yaml_delivers_exactly_what_the_function_accepts() -> None:
    """s.yaml (the maintained deploy path): one EventBridge-based OSS trigger whose key suffixes are the image suffixes
    in lower, UPPER and Title case — over the table, reaching the function == accepted by the function."""
    triggers = load_triggers([ROOT / "s.yaml"])
    settings = settings_of(triggers[0].function)
    keys = key_table(Settings())
    reached = reaching(triggers, keys)
    table = {k: (k in reached, function_accepts(k, settings)) for k in keys}
    assert {k: v for k, v in table.items() if v[0] != v[1]} == {}
    assert len(triggers) == 1 and triggers[0].kind == "eventbridge"


def test_s_yaml_pattern_is_the_settings_suffix_list() -> None:
    """One home for the suffix list: the function's settings; s.yaml spells out exactly its case variants."""
    (trigger,) = load_triggers([ROOT / "s.yaml"])
    assert trigger.pattern == image_pattern(trigger.bucket, DEFAULT_IMAGE_SUFFIXES)
    assert settings_of(trigger.function).image_suffixes == DEFAULT_IMAGE_SUFFIXES


def test_template_yml_delivers_images_and_never_results() -> None:
    """template.yml (fun has no EventBridge trigger; OSS allows 10 native triggers per bucket): native triggers on the
    last letter of every image suffix, both cases. Every image in any case reaches the function, results never; other
    keys ending in those letters reach it too, and the function skips them."""
    triggers = load_triggers([ROOT / "template.yml"])
    assert all(t.kind == "oss" for t in triggers) and len(triggers) <= 10
    settings = settings_of(triggers[0].function)
    keys = key_table(Settings())
    reached = reaching(triggers, keys)
    assert {k for k in keys if function_accepts(k, settings)} <= reached
    for any_case in ("photos/a.jPeG", "photos/a.hEiC", "photos/a.TiF"):  # even cases no one produces
        assert reaching(triggers, [any_case]) == {any_case}


def test_the_local_stack_fires_for_the_suffixes_that_never_fired(tmp_path: Path, face_jpeg: bytes) -> None:
    """The repo's s.yaml on the local stack: .gif, .HEIC, .Jpg, .WEBP uploads each get a result; others none."""

    def no_faces(data: bytes) -> list[dict[str, Any]]:
        return []

    with LocalStack(tmp_path / "data", project_dir=ROOT, fc_port=None, detector=no_faces, fsync=False) as stack:
        bucket = oss2.Bucket(oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint,
                             stack.bucket)  # fmt: skip
        photos = ["a/x.gif", "a/IMG_0001.HEIC", "a/scan.Jpg", "a/y.WEBP", "a/z.jpeg"]
        for key in [*photos, "a/notes.txt", "a/x.gif.faces.json"]:
            bucket.put_object(key, face_jpeg)
        assert stack.wait_idle(60)
        fired = sorted(i.source for i in stack.invocations())
        assert len(fired) == len(photos), fired
        assert all(bucket.object_exists(k + ".faces.json") for k in photos)
        assert "keys that reach the function" in stack.describe()


@pytest.mark.parametrize("descriptor", ["s.yaml", "template.yml"])
def test_a_server_side_copy_gets_a_result(tmp_path: Path, face_jpeg: bytes, descriptor: str) -> None:
    """OSS raises ``ObjectCreated:CopyObject`` for a server-side copy (console copy, ossutil, an app that uploads to a
    staging key and then copies it into place): each descriptor's trigger subscribes to it, so the copy gets a result."""

    def no_faces(data: bytes) -> list[dict[str, Any]]:
        return []

    descriptors = [ROOT / descriptor]
    with LocalStack(tmp_path / "data", descriptors=descriptors, fc_port=None, detector=no_faces, fsync=False) as stack:
        bucket = oss2.Bucket(oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint,
                             stack.bucket)  # fmt: skip
        bucket.put_object("staging/upload-0001", face_jpeg)  # no image suffix: fires nothing
        bucket.copy_object(stack.bucket, "staging/upload-0001", "photos/copied.jpg")
        bucket.put_object("photos/original.JPG", face_jpeg)
        bucket.copy_object(stack.bucket, "photos/original.JPG", "photos/copy of original.JPG")
        assert stack.wait_idle(60)
        copies = ["photos/copied.jpg", "photos/copy of original.JPG"]
        assert all(bucket.object_exists(k + ".faces.json") for k in copies)
        names = sorted(record.eventName for i in stack.invocations() for record in parse_event(i.event))
        assert names == ["ObjectCreated:CopyObject", "ObjectCreated:CopyObject", "ObjectCreated:PutObject"]
