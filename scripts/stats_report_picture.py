"""Make ``docs/stats-report.png``: the ``ossfaces stats --by person --html`` report for real photos, shot in headless
Chromium.

The photos are the tests' real ones (``tests/vision/photos.py``: the portraits and group photos taken from pinned
wheels, sha-256 checked), each portrait in five variants as the people tests make them, uploaded with oss2 to the
local stack (trigger → function → engine ``local``); then ``ossfaces people`` and ``ossfaces stats --by person``, as
docs/stats.md shows them, against that stack.

    .venv/bin/python scripts/stats_report_picture.py [--output docs/stats-report.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools"), str(ROOT / "tests")]

import oss2  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402
from vision.photos import fetch_photos  # noqa: E402

from ossfaces_localstack.stack import LocalStack  # noqa: E402
from ossfaces_tools.commands import main as cli  # noqa: E402
from tools.people_support import variants  # noqa: E402
from tools.test_people import GROUPS, PORTRAITS  # noqa: E402


def photos() -> dict[str, bytes]:
    files = fetch_photos()
    out: dict[str, bytes] = {}
    for name in PORTRAITS:
        with Image.open(files[name]) as image:
            for variant, body in variants(image).items():
                out[f"album/{Path(name).stem}/{variant}.jpg"] = body
    for name in GROUPS:
        out[f"album/groups/{name}"] = files[name].read_bytes()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "stats-report.png")
    args = parser.parse_args()
    uploads = photos()
    with tempfile.TemporaryDirectory() as tmp, LocalStack(Path(tmp) / "stack", project_dir=ROOT, engine="local",
                                                          fc_port=None, fsync=False) as stack:  # fmt: skip
        oss = stack.oss
        bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket)
        for key, body in uploads.items():
            bucket.put_object(key, body)
        deadline = time.monotonic() + 300
        while not all(bucket.object_exists(key + ".faces.json") for key in uploads):
            if time.monotonic() > deadline:
                raise SystemExit("the function did not write every result within 300 s")
            time.sleep(0.5)
        env = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret,
        }
        common = ["--prefix", "album/", "--oss-endpoint", oss.endpoint, "--no-progress"]
        page = Path(tmp) / "report.html"
        for command in (["people", stack.bucket, *common],
                        ["stats", stack.bucket, *common, "--by", "person", "--html", str(page)]):  # fmt: skip
            run = CliRunner().invoke(cli, command, env=env, catch_exceptions=False)
            if run.exit_code:
                raise SystemExit(f"ossfaces {' '.join(command)} failed:\n{run.output}")
        browser = shutil.which("chromium") or "chromium"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}/profile",
                        "--window-size=1200,2080", f"--screenshot={args.output}", page.as_uri()],
                       check=True, capture_output=True)  # fmt: skip
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
