"""The faces document: IMM passthrough, absent-not-null, and the committed JSON Schema is never stale."""

from __future__ import annotations

import json
from pathlib import Path

from ossfaces.document import FacesDocument, json_schema
from ossfaces.engines.imm import parse_lenient

SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "faces.schema.json"

# IMM v1's documented sample, verbatim in structure, including its trailing commas (it is not strict JSON).
IMM_SAMPLE = b"""{
  "Faces": [{
    "Age": 29, "Attractive": 0.95, "Emotion": "HAPPY", "EmotionConfidence": 0.9875330924987793,
    "EmotionDetails": {"ANGRY": 0.0000168, "CALM": 0.0122785, "DISGUSTED": 0.0000123, "HAPPY": 0.98753,
                       "SAD": 0.0000388, "SCARED": 0.0000069, "SURPRISED": 0.0000544,},
    "FaceAttributes": {
      "Beard": "NONE", "BeardConfidence": 1,
      "FaceBoundary": {"Height": 928, "Left": 607, "Top": 628, "Width": 894},
      "Glasses": "NONE", "GlassesConfidence": 1, "Mask": "NONE", "MaskConfidence": 0.9999999403953552,
      "Race": "YELLOW", "RaceConfidence": 0.598323404788971,
    },
    "FaceConfidence": 0.9704222083091736,
    "FaceId": "4199e1985b6d3bb075f0994c82e6d2fd82a274c11ce183e1fdb222dd3aa8c7ce",
    "Gender": "MALE", "GenderConfidence": 1, "NewImmField": {"kept": true, "note": "a, ] inside a string,}"},
  },],
  "ImageUri": "oss://image-demo/person.jpg",
  "RequestId": "5C3D854A3243A93A275E9C99",
  "httpStatusCode": 200,
  "success": true,
}"""


def test_committed_schema_is_current() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == json_schema(), (
        "run `ossfaces schema` and commit schema/faces.schema.json"
    )


def test_imm_sample_parses_leniently_and_passes_through() -> None:
    raw = parse_lenient(IMM_SAMPLE)
    assert raw["Faces"][0]["NewImmField"]["note"] == "a, ] inside a string,}"  # strings are never edited
    document = FacesDocument.model_validate(
        {**raw, "Source": {"Key": "person.jpg"}, "Engine": {"Name": "imm", "Version": "imm/detectface@v1"}}
    )
    out = json.loads(document.to_json())
    face = out["Faces"][0]
    assert face["FaceAttributes"]["FaceBoundary"] == {"Left": 607, "Top": 628, "Width": 894, "Height": 928}
    assert face["FaceAttributes"]["Race"] == "YELLOW" and face["NewImmField"]["kept"] is True
    assert out["ImageUri"] == "oss://image-demo/person.jpg" and out["success"] is True
    assert "Error" not in out and "Image" not in out  # absent, not null
    assert "null" not in document.to_json().decode()


def test_local_engine_faces_without_imm_only_fields_stay_absent() -> None:
    document = FacesDocument.model_validate(
        {
            "Source": {"Key": "a.jpg"},
            "Engine": {"Name": "local", "Version": "x"},
            "Faces": [{"Age": 30, "FaceAttributes": {"FaceBoundary": {"Left": 1, "Top": 2, "Width": 3, "Height": 4}}}],
        }
    )
    face = json.loads(document.to_json())["Faces"][0]
    assert set(face) == {"Age", "FaceAttributes"}
    assert set(face["FaceAttributes"]) == {"FaceBoundary"}
