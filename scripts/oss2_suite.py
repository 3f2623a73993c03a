"""Run oss2's own test suite (aliyun-oss-python-sdk ``tests/``) against the local OSS, once per signature version,
and print how many of its tests pass, by tier. A benchmark of protocol fidelity, not a CI test: it needs a checkout of
oss2's repository, which CI cannot fetch; without one it says so and exits 0.

Run: ``.venv/bin/python scripts/oss2_suite.py [--repo PATH] [--versions v1 v4] [--tier 1 2 3]``.
``--repo``: a clone (or bare git directory) of github.com/aliyun/aliyun-oss-python-sdk at the pinned oss2 release
(default ``$OSS2_SDK_REPO``). Its ``tests/`` is exported at ``--ref`` (default ``HEAD``) into a scratch directory
and run with pytest as a subprocess, with the suite's own environment variables pointing at a local OSS started
here (``OSS_TEST_ENDPOINT``, keys, region ``cn-hangzhou``, ``OSS_TEST_AUTH_VERSION``).

Tiers: the test files that exercise what the local OSS implements (README "Local OSS"), from the core outwards.
1. signatures: ``test_sign.py``;
2. objects and multipart: ``test_multipart.py``, ``test_chinese.py``, ``test_list_objects_v2.py``;
3. transfers: ``test_download.py`` (resumable and ranged downloads, gzip), ``test_upload.py`` (resumable uploads).
Tests that need what no local OSS can give (KMS keys, another account, CNAME, a real region's endpoint) fail in every
run and are listed as such.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack")]

TIERS = {
    1: ["test_sign.py"],
    2: ["test_multipart.py", "test_chinese.py", "test_list_objects_v2.py"],
    3: ["test_download.py", "test_upload.py"],
}


def export_tests(repo: Path, ref: str, into: Path) -> Path:
    """``tests/`` of ``repo`` at ``ref``, written under ``into`` (works for a bare git directory too)."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref, "tests"], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    # Some of its files import ``mock``, the Python 2 backport; the standard library's is the same API.
    (into / "mock.py").write_text("from unittest.mock import *  # noqa: F403\nfrom unittest.mock import patch\n")
    return into / "tests"


def run_tier(tests: Path, files: list[str], env: dict[str, str]) -> tuple[int, int, list[str]]:
    """pytest on ``files``: (passed, total, names of the failures)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-rf",
               "--timeout", "300", *(f"tests/{f}" for f in files)]  # fmt: skip
    done = subprocess.run(command, cwd=tests.parent, env=env, capture_output=True, text=True)
    out = done.stdout
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", out))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", out))
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    return passed, passed + failed, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(os.environ.get("OSS2_SDK_REPO", "/nonexistent")))
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--versions", nargs="*", default=["v1", "v4"])
    parser.add_argument("--tier", nargs="*", type=int, default=sorted(TIERS))
    args = parser.parse_args()
    if not (args.repo / "HEAD").exists() and not (args.repo / ".git").exists():
        print(f"skipped: no checkout of aliyun-oss-python-sdk at {args.repo} (--repo or OSS2_SDK_REPO)")
        return 0
    from ossfaces_localstack.oss import LocalOss

    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}   [load {os.getloadavg()[0]:.2f}]")
    with tempfile.TemporaryDirectory(prefix="oss2-suite-") as scratch:
        tests = export_tests(args.repo, args.ref, Path(scratch) / "sdk")
        totals: dict[str, tuple[int, int]] = {}
        for version in args.versions:
            with LocalOss(Path(scratch) / f"data-{version}", fsync=False) as oss:
                env = os.environ | {
                    "OSS_TEST_ACCESS_KEY_ID": oss.access_key_id,
                    "OSS_TEST_ACCESS_KEY_SECRET": oss.access_key_secret,
                    "OSS_TEST_ENDPOINT": oss.endpoint,
                    "OSS_TEST_REGION": oss.region,
                    "OSS_TEST_AUTH_VERSION": version,
                }
                passed_all = total_all = 0
                for tier in args.tier:
                    passed, total, failures = run_tier(tests, TIERS[tier], env)
                    passed_all, total_all = passed_all + passed, total_all + total
                    print(f"{version} tier {tier} ({', '.join(TIERS[tier])}): {passed}/{total} passed", flush=True)
                    for name in failures:
                        print(f"    failed: {name}")
                totals[version] = (passed_all, total_all)
        for version, (passed, total) in totals.items():
            print(f"{version}: {passed}/{total} passed (tiers {', '.join(map(str, args.tier))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
