"""End to end with engine ``imm2``: a photo uploaded with oss2 → the local trigger → the function → DetectImageFaces on
the local IMM v2 endpoint (real SDK, the real local face engine) → ``<key>.faces.json``; ``ossfaces up`` shows it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import oss2

from ossfaces_localstack.detectface import FaceDetector
from ossfaces_localstack.fc.invoker import DeliveryPolicy
from ossfaces_localstack.fc.runner import default_code_dir
from ossfaces_localstack.imm import DEFAULT_PROJECT
from ossfaces_localstack.stack import LocalStack

S_YAML = textwrap.dedent(
    """
    edition: 3.0.0
    name: faces
    vars: {{bucket: my-photos}}
    resources:
      faces:
        component: fc3
        props:
          region: cn-hangzhou
          functionName: faces
          code: {code}
          handler: index.handler
          timeout: 60
          environmentVariables:
            OSSFACES_IMM_PROJECT: {project}
          instanceLifecycleConfig:
            initializer: {{handler: index.initializer, timeout: 60}}
          triggers:
            - triggerName: photos-jpg
              triggerType: oss
              sourceArn: acs:oss:cn-hangzhou:${{config('AccountID')}}:${{vars.bucket}}
              triggerConfig:
                events: [oss:ObjectCreated:PutObject]
                filter:
                  key: {{prefix: 'photos/', suffix: '.jpg'}}
    """
)


def test_upload_to_faces_json_through_imm_v2(tmp_path: Path, face_jpeg: bytes, detector: FaceDetector) -> None:
    (tmp_path / "s.yaml").write_text(S_YAML.format(code=default_code_dir(), project="my-imm-v2"), encoding="utf-8")
    stack = LocalStack(
        tmp_path / "data", project_dir=tmp_path, engine="imm2", fc_port=None, fsync=False, detector=detector,
        policy=DeliveryPolicy(backoff_scale=0.01),
    )  # fmt: skip
    with stack:
        assert stack.imm is not None and stack.imm.projects == (DEFAULT_PROJECT, "my-imm-v2")
        assert f"IMM v2 endpoint   {stack.imm.endpoint}" in stack.describe()
        bucket = oss2.Bucket(
            oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, stack.bucket
        )
        etag = bucket.put_object("photos/astronaut.jpg", face_jpeg).etag
        assert stack.wait_idle(60)
        document = json.loads(bucket.get_object("photos/astronaut.jpg.faces.json").read())
        (call,) = stack.imm.calls
    assert (call.project, call.source_uri, call.status) == ("my-imm-v2", "oss://my-photos/photos/astronaut.jpg", 200)
    assert document["Engine"]["Name"] == "imm2" and document["Source"]["ETag"] == etag.strip('"').upper()
    (face,) = document["Faces"]
    assert face["Gender"] == "FEMALE" and face["Emotion"] in (
        "HAPPY",
        "CALM",
        "SAD",
        "ANGRY",
        "SURPRISED",
        "SCARED",
        "DISGUSTED",
    )
    box = face["FaceAttributes"]["FaceBoundary"]
    assert 100 < box["Left"] < 300 and 0 < box["Top"] < 200  # the astronaut's face, upper middle of 512×512
    assert set(face["FaceAttributes"]["HeadPose"]) == {"Pitch", "Roll", "Yaw"} and face["FigureId"]
