"""Make ``docs/people-page.png``: the ``ossfaces people --html`` page for public-domain photos, shot in headless Chromium.

The photos: scikit-image's ``astronaut`` (NASA portrait of Eileen Collins, public domain) in six variants (as the
people tests make them), results made by the local engine with embeddings per the shared contract, on a local OSS.

    .venv/bin/python scripts/people_page_picture.py [--output docs/people-page.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools"), str(ROOT / "tests")]

import oss2  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from skimage import data  # noqa: E402

from ossfaces.vision import FaceAnalyzer  # noqa: E402
from ossfaces_localstack.oss import LocalOss  # noqa: E402
from ossfaces_tools.commands import main as cli  # noqa: E402
from tools.people_support import jpeg, variants  # noqa: E402
from tools.test_people import result_body  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "people-page.png")
    args = parser.parse_args()
    analyzer = FaceAnalyzer.load()
    astronaut = Image.fromarray(data.astronaut())
    photos = {f"album/astronaut-{name}.jpg": body for name, body in variants(astronaut).items()}
    photos["album/astronaut-gray.jpg"] = jpeg(ImageOps.grayscale(astronaut))
    with tempfile.TemporaryDirectory() as tmp, LocalOss(Path(tmp) / "oss", buckets=["photos"]) as server:
        bucket = oss2.Bucket(oss2.Auth(server.access_key_id, server.access_key_secret), server.endpoint, "photos")
        for key, body in photos.items():
            etag = bucket.put_object(key, body).etag
            bucket.put_object(key + ".faces.json", result_body(analyzer, key, body, etag))
        env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": server.access_key_id,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": server.access_key_secret}  # fmt: skip
        common = ["--prefix", "album/", "--oss-endpoint", server.endpoint, "--no-progress"]
        run = CliRunner().invoke(cli, ["people", "photos", *common, "--json"], env=env, catch_exceptions=False)
        pid = json.loads(run.output.splitlines()[0])["people"][0]["id"]
        CliRunner().invoke(cli, ["people", "name", "photos", str(pid), "Eileen Collins", *common], env=env)
        page = Path(tmp) / "people.html"
        CliRunner().invoke(cli, ["people", "photos", *common, "--html", str(page)], env=env, catch_exceptions=False)
        browser = shutil.which("chromium") or "chromium"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}/profile",
                        "--window-size=900,420", f"--screenshot={args.output}", page.as_uri()],
                       check=True, capture_output=True)  # fmt: skip
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
