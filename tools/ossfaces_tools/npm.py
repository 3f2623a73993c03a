"""Pinned npm packages run by the tools and the tests (``pyodide`` for ``ossfaces package``; ``@alicloud/fun`` and
``ali-oss`` for the tests), each installed once per machine and shared by every run and every checkout.

They live in ``~/.cache/ossfaces/npm/<name>@<version>/`` (``$OSSFACES_CACHE_DIR``, else ``$XDG_CACHE_HOME/ossfaces``,
moves it). An install goes into a temporary folder that is renamed into place under a file lock, so two runs at once
(pytest-xdist workers, two clones) install it once and never see half of it. Needs Node + npm on PATH.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class NpmError(RuntimeError):
    """npm is missing or the install failed; the message says which and why."""


def cache_root() -> Path:
    """The per-user folder the tools keep downloads in (never inside a checkout)."""
    configured = os.environ.get("OSSFACES_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ossfaces"


def prefix(package: str, version: str) -> Path:
    """Where ``package@version`` is (or will be) installed: ``<prefix>/node_modules/<package>``."""
    return cache_root() / "npm" / f"{package.replace('/', '+')}@{version}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(package: str, version: str, provides: str) -> Path:
    """The prefix of ``package@version``, installed the first time; ``provides`` is a file (relative to the prefix)
    that only a complete install has, e.g. ``node_modules/.bin/fun``."""
    target = prefix(package, version)
    if (target / provides).exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise NpmError(f"npm (Node 18+) is needed to install {package}@{version}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if (target / provides).exists():  # another run installed it while this one waited
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging), f"{package}@{version}"],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if done.returncode != 0 or not (staging / provides).exists():
                raise NpmError(f"npm install {package}@{version} failed:\n{done.stderr[-2000:]}")
            shutil.rmtree(target, ignore_errors=True)  # an incomplete install left by an older layout
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
