"""The manifest, NOTICE and fetch-time conversions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ossfaces.errors import ConfigError
from ossfaces.vision import FaceAnalyzer, models
from ossfaces_tools import modelsetup

ROOT = Path(__file__).resolve().parents[2]


def test_notice_is_generated_from_the_manifest() -> None:
    assert (ROOT / "NOTICE").read_text(encoding="utf-8") == modelsetup.render_notice()


def test_every_model_is_pinned() -> None:
    for m in models.MODELS:
        assert len(m.sha256) == 64 and len(m.member_sha256) == 64 and len(m.package.wheel_sha256) == 64
        assert m.licence and m.attribution
        assert (m.conversion is None) == (m.sha256 == m.member_sha256)


def test_missing_models_give_a_config_error_that_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ossfaces models fetch"):
        FaceAnalyzer.load(tmp_path)


@pytest.mark.parametrize("check", ["verify_models", "FaceAnalyzer.load"])
def test_a_corrupted_or_missing_model_file_is_refused_by_name(
    tmp_path: Path, analyzer: FaceAnalyzer, check: str
) -> None:
    """``FaceAnalyzer.load`` hashes the files in parallel: the same refusal, naming every file at fault."""
    src = models.resolve_models_dir()
    for m in models.MODELS:
        (tmp_path / m.filename).write_bytes((src / m.filename).read_bytes())
    target = tmp_path / models.BY_ROLE["gender"].filename
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    (tmp_path / models.BY_ROLE["emotion"].filename).unlink()
    expected = f"{target.name} has the wrong sha-256; {models.BY_ROLE['emotion'].filename} is missing"
    with pytest.raises(ConfigError, match=expected):
        models.verify_models(tmp_path) if check == "verify_models" else FaceAnalyzer.load(tmp_path)


def test_env_var_and_explicit_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(models.MODELS_DIR_ENV, str(tmp_path))
    assert models.resolve_models_dir() == tmp_path
    assert models.resolve_models_dir(Path("/x")) == Path("/x")


def test_fetch_is_idempotent(analyzer: FaceAnalyzer) -> None:
    paths = modelsetup.fetch_models()  # everything present: nothing downloaded
    assert {p.name for p in paths} == {m.filename for m in models.MODELS}


def test_emotion_conversion_matches_the_numpy_reference() -> None:
    pytest.importorskip("h5py")
    import cv2

    from ossfaces_tools.modelsetup import convert

    path = models.resolve_models_dir() / models.BY_ROLE["emotion"].filename
    net = cv2.dnn.readNet(str(path))
    x = convert.reference_inputs()
    net.setInput(x.reshape(len(x), 1, 64, 64))
    got = np.asarray(net.forward())
    assert got.shape == (3, 7)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_engine_version_names_the_models(analyzer: FaceAnalyzer) -> None:
    assert f".models.{models.manifest_digest()}+" in analyzer.version  # then +calib.<digest> (test_calibration_photos)


def test_a_wheel_member_with_the_wrong_digest_is_refused(tmp_path: Path) -> None:
    import zipfile

    wheel = tmp_path / "x-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("x/data.bin", b"abc")
    good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert modelsetup.read_member(wheel, "x/data.bin", good) == b"abc"
    with pytest.raises(ConfigError, match="expected"):
        modelsetup.read_member(wheel, "x/data.bin", "0" * 64)
