"""The real ali-oss (OSS's Node SDK, npm, pinned) against the local OSS, configured the way users write it.

ali-oss given an IP endpoint connects to it but sends ``Host: <bucket>.oss-<region>.aliyuncs.com`` and signs for that
bucket, so the local OSS must read the bucket from OSS's own host names. Installed once per machine
into ``~/.cache/ossfaces/npm/`` (see ``tests/npm_support.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from npm_support import npm_install

from ossfaces_localstack.oss import LocalOss

ALI_OSS_VERSION = "6.23.0"
SCRIPT = Path(__file__).with_name("ali_oss_roundtrip.js")


@pytest.fixture(scope="session")
def ali_oss_modules() -> Path:
    """node_modules holding ali-oss at the pinned version, installed from npm on first use (a few seconds)."""
    modules = npm_install("ali-oss", ALI_OSS_VERSION, "node_modules/ali-oss/package.json") / "node_modules"
    installed = json.loads((modules / "ali-oss" / "package.json").read_text(encoding="utf-8"))["version"]
    assert installed == ALI_OSS_VERSION, f"{modules} holds ali-oss {installed}; delete it to reinstall"
    return modules


@pytest.mark.parametrize("v4", [False, True], ids=["v1", "v4"])
def test_ali_oss_with_an_ip_endpoint(local_oss: LocalOss, ali_oss_modules: Path, v4: bool) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed for the ali-oss test (Node 20)"
    options = {
        "endpoint": local_oss.endpoint,  # http://127.0.0.1:PORT, as the local stack's endpoint is written
        "region": f"oss-{local_oss.region}",
        "bucket": "test-bucket",
        "accessKeyId": local_oss.access_key_id,
        "accessKeySecret": local_oss.access_key_secret,
        "authorizationV4": v4,
    }
    done = subprocess.run(
        [node, str(SCRIPT), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "NODE_PATH": str(ali_oss_modules)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    key = "ali-oss/中文 key+%.txt"
    assert result == {
        "putStatus": 200,
        "putEtag": '"AB6C474E70081CBFBE46E9346DDADBAA"',  # MD5 of b"from ali-oss"
        "getBody": "from ali-oss",
        "headStatus": 200,
        "headMeta": {"from": "node"},
        "listed": [key],
        "listedV2": [key],
        "afterDelete": {"status": 404, "code": "NoSuchKey"},
    }
