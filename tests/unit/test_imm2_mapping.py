"""IMM v2's Figure → the document's conventions (issue 9 item 1): one shape whatever the engine."""

from __future__ import annotations

import pytest

from ossfaces.document import EngineInfo, FacesDocument, SourceInfo
from ossfaces.engines.imm2 import document_face, split_endpoint
from ossfaces.settings import Settings

# The SDK's Figure fields (alibabacloud_imm20200930 5.0.3 models/_figure.py), values as IMM's docs show them.
FIGURE = {
    "Age": 31,
    "AgeSD": 4.2,
    "Attractive": 0.7,
    "Beard": "none",
    "BeardConfidence": 0.98,
    "Boundary": {"Left": 10, "Top": 20, "Width": 30, "Height": 40, "Polygon": [{"X": 10, "Y": 20}]},
    "Emotion": "happiness",
    "EmotionConfidence": 0.93,
    "FaceQuality": 0.88,
    "FigureClusterConfidence": 0.0,
    "FigureClusterId": "figure-cluster-id-unavailable",
    "FigureConfidence": 0.99,
    "FigureId": "f3c2a1e0-0000-0000-0000-000000000000",
    "FigureType": "face",
    "Gender": "female",
    "GenderConfidence": 0.97,
    "Glasses": "none",
    "GlassesConfidence": 0.99,
    "Hat": "none",
    "HatConfidence": 0.95,
    "HeadPose": {"Pitch": -3.1, "Roll": 1.2, "Yaw": 8.5},
    "Mask": "none",
    "MaskConfidence": 0.99,
    "Mouth": "close",
    "MouthConfidence": 0.9,
    "Sharpness": 0.76,
}


def test_a_v2_figure_in_the_documents_conventions() -> None:
    face = document_face(FIGURE)
    assert face["Gender"] == "FEMALE" and face["Emotion"] == "HAPPY"
    assert face["FaceConfidence"] == 0.99 and "FigureConfidence" not in face
    attributes = face["FaceAttributes"]
    assert attributes["FaceBoundary"] == FIGURE["Boundary"]  # Polygon kept inside
    assert attributes["HeadPose"] == FIGURE["HeadPose"]
    assert (attributes["Glasses"], attributes["Beard"], attributes["Mask"]) == ("NONE", "NONE", "NONE")
    assert attributes["MaskConfidence"] == 0.99
    assert "Boundary" not in face and "HeadPose" not in face and "Glasses" not in face
    for v2_only in ("AgeSD", "Mouth", "MouthConfidence", "Hat", "HatConfidence", "Sharpness", "FigureId",
                    "FigureClusterId", "FigureClusterConfidence", "FigureType", "Attractive", "FaceQuality"):  # fmt: skip
        assert face[v2_only] == FIGURE[v2_only], v2_only
    document = FacesDocument.build(SourceInfo(Key="a.jpg"), EngineInfo(Name="imm2", Version="v"), faces=[face])
    (parsed,) = document.Faces
    assert parsed.FaceAttributes is not None and parsed.FaceAttributes.FaceBoundary.Width == 30
    assert parsed.AgeSD == 4.2 and parsed.FigureClusterId == "figure-cluster-id-unavailable"


@pytest.mark.parametrize(
    ("label", "expected"),
    [("happiness", "HAPPY"), ("neutral", "CALM"), ("sadness", "SAD"), ("anger", "ANGRY"), ("surprise", "SURPRISED"),
     ("fear", "SCARED"), ("disgust", "DISGUSTED"), ("Happiness", "HAPPY"), ("contempt", "contempt"),
     ("confused", "confused")],
)  # fmt: skip
def test_emotions_map_to_the_seven_names_and_unknown_labels_are_kept(label: str, expected: str) -> None:
    assert document_face({"Emotion": label})["Emotion"] == expected


def test_unknown_fields_and_values_pass_through() -> None:
    face = document_face({"Gender": "unknown", "SomethingNew": {"x": 1}, "Hat": "cap"})
    assert face == {"Gender": "unknown", "SomethingNew": {"x": 1}, "Hat": "cap"}


def test_imm_endpoint_follows_the_region_unless_overridden() -> None:
    assert Settings.from_environ({}).imm_endpoint_for("ap-southeast-1") == "https://imm.ap-southeast-1.aliyuncs.com"
    local = Settings.from_environ({"OSSFACES_IMM_ENDPOINT": "http://127.0.0.1:9402"})
    assert split_endpoint(local.imm_endpoint_for("cn-hangzhou")) == ("http", "127.0.0.1:9402")
    vpc = Settings.from_environ({"OSSFACES_IMM_ENDPOINT": "imm-vpc.cn-beijing.aliyuncs.com"})
    assert split_endpoint(vpc.imm_endpoint_for("cn-beijing")) == ("https", "imm-vpc.cn-beijing.aliyuncs.com")


def test_the_deployed_imm2_path_imports_no_dev_part() -> None:
    """index + engine imm2 + the SDK, as FC loads them: nothing of localstack, the tools or the CLI."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, index\n"
        "from ossfaces.engines import make_engine\n"
        "from ossfaces.settings import Settings\n"
        "engine = make_engine(Settings.from_environ({'OSSFACES_ENGINE': 'imm2', 'OSSFACES_IMM_PROJECT': 'p'}))\n"
        "import alibabacloud_imm20200930.client\n"
        "bad = [m for m in sys.modules if m.startswith(('ossfaces_localstack', 'ossfaces.cli', 'ossfaces.backfill',"
        " 'ossfaces.stats', 'ossfaces.report', 'ossfaces_tools', 'ossfaces_tools.commands', 'cv2'))]\n"
        "print(type(engine).__name__, bad)\n"
    )
    function_dir = Path(__file__).resolve().parents[2] / "function"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=function_dir, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(function_dir), "PATH": ""},
    )  # fmt: skip
    assert out.stdout.strip() == "Imm2Engine []"
