"""Installing a pinned npm package for the tests that run a real Node tool or SDK (fun, ali-oss).

Installed on first use into a git-ignored folder under ``.cache/`` and reused; a fresh clone (``.ci/run``) gets it
the first time such a test runs. Needs Node 20 + npm on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"


def npm_install(package: str, version: str, prefix: Path, installed: Path) -> None:
    """``npm install package@version`` into ``prefix`` unless ``installed`` (a file it provides) already exists."""
    if installed.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"npm is needed to install {package} (Node 20 + npm)")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"{package}@{version}"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0 and installed.exists(), f"npm install {package} failed:\n{done.stderr[-3000:]}"
