"""Memory of the local IMM v2 endpoint when a client sends it a large body: unsigned, or signed and naming a large
object. Before the fix the endpoint read the whole body (and the whole object) first.

Run: ``.venv/bin/python benchmarks/bench_imm_body.py [--mib 1024] [--localstack DIR]``. Prints the serving process's
peak RSS (VmHWM) before and after each request and the answer; asserts nothing. ``--localstack``: another checkout's
``localstack/`` (e.g. a git worktree of an older commit), for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import sys, tempfile, time
from pathlib import Path
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from ossfaces_localstack.oss import LocalOss
from ossfaces_localstack.imm import LocalImm
with tempfile.TemporaryDirectory() as d, LocalOss(Path(d), buckets=["big-bucket"], fsync=False) as oss:
    big = Path(d) / "big.bin"
    with open(big, "wb") as f:
        f.truncate(int(sys.argv[3]) * 2**20)
    import oss2
    oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, "big-bucket").put_object_from_file("big.jpg", str(big))
    with LocalImm(oss, lambda data: []) as imm:
        print(imm.endpoint, oss.access_key_id, oss.access_key_secret, flush=True)
        time.sleep(3600)
"""


def hwm(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the unsigned body and of the named object")
    parser.add_argument("--localstack", type=Path, default=ROOT / "localstack")
    args = parser.parse_args()
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}   [load {os.getloadavg()[0]:.2f}]")
    command = [sys.executable, "-c", SERVER, str(args.localstack), str(ROOT / "function"), str(args.mib)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        endpoint, key_id, secret = server.stdout.readline().split()
        before = hwm(server.pid)

        def body() -> Iterator[bytes]:
            chunk = bytes(2**20)
            for _ in range(args.mib):
                yield chunk

        headers = {"x-acs-action": "DetectImageFaces", "x-acs-version": "2020-09-30"}
        start = time.monotonic()
        try:
            answer = requests.post(endpoint + "/", data=body(), headers=headers, timeout=300)
            said = f"{answer.status_code} {answer.json().get('Code')}"
        except requests.ConnectionError as exc:
            said = f"connection closed by the server ({type(exc).__name__})"
        after = hwm(server.pid)
        print(f"unsigned {args.mib} MiB body: {said} in {time.monotonic() - start:.1f} s; serving process peak RSS "
              f"{before} -> {after} MiB")  # fmt: skip
        from alibabacloud_imm20200930 import models
        from alibabacloud_imm20200930.client import Client
        from alibabacloud_tea_openapi import models as open_api
        from alibabacloud_tea_openapi.exceptions import ClientException
        from darabonba.runtime import RuntimeOptions

        config = open_api.Config(access_key_id=key_id, access_key_secret=secret, type="access_key",
                                 region_id="cn-hangzhou", endpoint=endpoint.removeprefix("http://"), protocol="http")  # fmt: skip
        request = models.DetectImageFacesRequest(project_name="ossfaces-local", source_uri="oss://big-bucket/big.jpg")
        start = time.monotonic()
        try:
            Client(config).detect_image_faces_with_options(request, RuntimeOptions())
            said = "200"
        except ClientException as exc:
            said = f"{exc.status_code} {exc.code}"
        print(f"signed call naming a {args.mib} MiB object: {said} in {time.monotonic() - start:.1f} s; serving "
              f"process peak RSS {after} -> {hwm(server.pid)} MiB  [load {os.getloadavg()[0]:.2f}]")  # fmt: skip
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
