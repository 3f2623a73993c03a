"""``ossfaces stats`` over a prefix whose results came from the three engines together: the totals must be exact.

    PYTHONPATH=function python scripts/mixed_engines_stats.py

A local OSS (with ``imm/detectface`` on the local engine) and the local IMM v2 endpoint in a temporary directory;
two photos per engine under ``photos/<engine>/`` (scikit-image's astronaut and its mirror image, one face each); the
function (``invocation.App``) runs each upload with engine ``imm``, ``imm2`` or ``local``; then the stats tool reads
``photos/`` and prints its JSON, the engines that wrote the documents, and whether the totals add up.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from pathlib import Path

import oss2
from PIL import Image, ImageOps
from skimage import data

from ossfaces.invocation import App
from ossfaces.settings import Settings
from ossfaces_localstack.detectface import IMM_DETECTFACE, imm_detectface, local_face_detector
from ossfaces_localstack.fc.context import Credentials, FCContext, FunctionMeta, ServiceMeta
from ossfaces_localstack.imm import DEFAULT_PROJECT, LocalImm
from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.access import BucketAccess
from ossfaces_tools.statsrun import StatsRequest, run_stats

EVENT = Path(__file__).resolve().parents[1] / "events" / "oss_put_jpg.json"
BUCKET = "ossfaces-photos"


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def event_for(bucket: oss2.Bucket, key: str) -> bytes:
    payload = json.loads(EVENT.read_text(encoding="utf-8"))
    head = bucket.head_object(key)
    record = payload["events"][0]
    record["oss"]["bucket"]["name"] = bucket.bucket_name
    record["oss"]["object"].update(key=key, size=head.content_length, eTag=head.etag)
    return json.dumps(payload).encode()


def main() -> None:
    astronaut = Image.fromarray(data.astronaut())
    photos = {"a.jpg": jpeg(astronaut), "b.jpg": jpeg(ImageOps.mirror(astronaut))}
    detector = local_face_detector()
    with tempfile.TemporaryDirectory() as scratch:
        oss = LocalOss(Path(scratch), buckets=[BUCKET], processors={IMM_DETECTFACE: imm_detectface(detector)})
        with oss, LocalImm(oss, detector) as imm:
            bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, BUCKET)
            context = FCContext("mixed", Credentials(*oss.issue_sts(600)), FunctionMeta("ossfaces", "index.handler"),
                                ServiceMeta("ossfaces"), oss.region, "1234567890123456")  # fmt: skip
            for engine in ("imm", "imm2", "local"):
                environ = {"OSSFACES_ENGINE": engine, "OSSFACES_OSS_ENDPOINT": oss.endpoint,
                           "OSSFACES_IMM_ENDPOINT": imm.endpoint, "OSSFACES_IMM_PROJECT": DEFAULT_PROJECT}  # fmt: skip
                app = App(Settings.from_environ(environ))
                for name, body in photos.items():
                    key = f"photos/{engine}/{name}"
                    bucket.put_object(key, body)
                    assert app.handle(event_for(bucket, key), context)["processed"] == 1
            engines = Counter(
                json.loads(bucket.get_object(info.key).read())["Engine"]["Name"]
                for info in oss2.ObjectIteratorV2(bucket, prefix="photos/")
                if info.key.endswith(".faces.json")
            )
            out = io.StringIO()
            access = BucketAccess(BUCKET, oss.region, oss.endpoint, oss.access_key_id, oss.access_key_secret)
            run_stats(StatsRequest(access, prefix="photos/", as_json=True, progress=False), out=out)
    overall = json.loads(out.getvalue())["overall"]
    print("documents by engine:", dict(sorted(engines.items())))
    print("stats overall:", json.dumps({k: overall[k] for k in ("documents", "faces", "genders", "emotions")}))
    exact = overall["documents"] == sum(engines.values()) == 6 and overall["faces"] == 6
    print("totals exact:", exact)


if __name__ == "__main__":
    main()
