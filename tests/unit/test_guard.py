"""Which records are processed, and the reason logged for each one that is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ossfaces.events import OssRecord
from ossfaces.pipeline import skip_reason
from ossfaces.settings import Settings


def record(key: str, *, size: int = 1000, event: str = "ObjectCreated:PutObject") -> OssRecord:
    return OssRecord.model_validate(
        {
            "eventName": event,
            "eventTime": "2026-11-20T08:15:02.000Z",
            "region": "cn-hangzhou",
            "oss": {"bucket": {"name": "b"}, "object": {"key": key, "size": size, "eTag": "AB"}},
        }
    )


SETTINGS = Settings(max_image_bytes=5000)


@pytest.mark.parametrize(
    "key", ["a.jpg", "A.JPG", "dir/b.JpEg", "c.png", "d.webp", "e.bmp", "f.gif", "g.tif", "h.tiff", "相册/合影.jpg"]
)
def test_images_are_processed(key: str) -> None:
    assert skip_reason(record(key), SETTINGS) is None


@pytest.mark.parametrize(
    ("rec", "fragment"),
    [
        (record("a.jpg.faces.json"), "recursion"),
        (record("a.txt"), "image suffix"),
        (record("a.jpg.bak"), "image suffix"),
        (record("jpg"), "image suffix"),
        (record("a.jpg", size=0), "empty"),
        (record("a.jpg", size=5001), "OSSFACES_MAX_IMAGE_BYTES"),
        (record("a.jpg", event="ObjectRemoved:DeleteObject"), "does not create"),
        (record("a.jpg", event="ObjectCreated:UploadPart"), "does not create"),
        (record("a.jpg", event="ObjectCreated:InitiateMultipartUpload"), "does not create"),
    ],
)
def test_skips_give_a_reason(rec: OssRecord, fragment: str) -> None:
    reason = skip_reason(rec, SETTINGS)
    assert reason is not None and fragment in reason


def test_recursion_guard_holds_even_if_results_look_like_images() -> None:
    settings = Settings(result_suffix=".faces.jpg")
    assert "recursion" in (skip_reason(record("a.jpg.faces.jpg"), settings) or "")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSSFACES_IMAGE_SUFFIXES", ".JPG, .heic")
    monkeypatch.setenv("OSSFACES_ENGINE", "local")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    settings = Settings()
    assert settings.image_suffixes == (".jpg", ".heic")
    assert settings.engine == "local" and settings.access_key_id == "id"
    assert settings.endpoint_for("cn-beijing") == "https://oss-cn-beijing-internal.aliyuncs.com"
    monkeypatch.setenv("OSSFACES_RESULT_SUFFIX", " ")
    with pytest.raises(ValueError, match="result_suffix"):
        Settings()


def test_settings_from_a_mapping_ignore_this_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the local stack and tests use: the declared variables only, with the same names, aliases and parsing."""
    monkeypatch.setenv("OSSFACES_ENGINE", "local")
    monkeypatch.setenv("OSSFACES_RESULT_SUFFIX", ".leaked.json")
    settings = Settings.from_environ(
        {"OSSFACES_IMAGE_SUFFIXES": ".JPG, .heic", "ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "OSSFACES_THREADS": ""},
        max_image_bytes=7,
    )
    assert settings.engine == "imm" and settings.result_suffix == ".faces.json"  # defaults, not the process's values
    assert settings.image_suffixes == (".jpg", ".heic") and settings.access_key_id == "id"
    assert settings.threads == 0 and settings.max_image_bytes == 7
    assert Settings().engine == "local"  # Settings() still reads the process's environment (the tools)
    with pytest.raises(ValueError, match="result_suffix"):
        Settings.from_environ({"OSSFACES_RESULT_SUFFIX": " "})


def test_fc_entry_builds_one_app_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """index.py in FC: the initializer builds the instance's App from the environment, once; the handler uses it."""
    import index

    monkeypatch.setattr(index, "_app", None)
    monkeypatch.setenv("OSSFACES_ENGINE", "imm")
    monkeypatch.setenv("OSSFACES_RESULT_SUFFIX", ".from-env.json")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
    index.initializer(None)
    first = index._app
    assert first is not None and first.settings.result_suffix == ".from-env.json"
    monkeypatch.setenv("OSSFACES_RESULT_SUFFIX", ".changed.json")
    summary = index.handler(b'{"events": []}', None)
    assert summary["records"] == 0 and index._app is first  # built once per instance


def test_one_home_for_the_minimum_face_size_and_the_engine_tag() -> None:
    """Issue 12 item 5: the local engine's default and the setting are one number; the tag has one definition."""
    import inspect

    from ossfaces.engines import engine_tag
    from ossfaces.pipeline import Pipeline
    from ossfaces.settings import DEFAULT_MIN_FACE_PX
    from ossfaces.vision import FaceAnalyzer

    assert Settings.from_environ({}).min_face_px == DEFAULT_MIN_FACE_PX
    assert inspect.signature(FaceAnalyzer.load).parameters["min_face_px"].default == DEFAULT_MIN_FACE_PX

    class Engine:
        name, version = "local", "v9"

    assert engine_tag(Engine()) == "local/v9"  # type: ignore[arg-type]
    assert Pipeline(Settings.from_environ({}), Engine(), lambda n, r: None).engine_tag == "local/v9"  # type: ignore[arg-type]


def test_one_home_for_the_detector_score_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The setting, the local engine's default and `ossfaces analyze`'s default are settings.DEFAULT_SCORE_THRESHOLD."""
    import inspect

    from click.testing import CliRunner

    from ossfaces.errors import ConfigError
    from ossfaces.settings import DEFAULT_MIN_FACE_PX, DEFAULT_SCORE_THRESHOLD
    from ossfaces.vision import FaceAnalyzer
    from ossfaces_tools.commands import main

    assert Settings.from_environ({}).score_threshold == DEFAULT_SCORE_THRESHOLD
    assert inspect.signature(FaceAnalyzer.load).parameters["score_threshold"].default == DEFAULT_SCORE_THRESHOLD
    loaded: dict[str, object] = {}

    def load(*args: object, **options: object) -> FaceAnalyzer:
        loaded.update(options)
        raise ConfigError("Stop", "options seen")

    monkeypatch.setattr(FaceAnalyzer, "load", load)
    (tmp_path / "a.jpg").write_bytes(b"")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "a.jpg")])
    assert "options seen" in result.output
    assert (loaded["score_threshold"], loaded["min_face_px"]) == (DEFAULT_SCORE_THRESHOLD, DEFAULT_MIN_FACE_PX)
