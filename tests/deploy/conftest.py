"""Fixtures of the deploy tests (helpers in ``deploy_support``); registers the ``network`` marker."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from deploy_support import FUN_BIN, FUN_CACHE, FUN_VERSION, Fun


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "network: needs PyPI (package index) reachable")


@pytest.fixture(scope="session")
def fun(tmp_path_factory: pytest.TempPathFactory) -> Fun:
    """The real fun CLI, installed from npm on first use (about a minute), then reused from .cache/fun/."""
    if not FUN_BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install @alicloud/fun (Node 20 + npm)")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(FUN_CACHE), f"@alicloud/fun@{FUN_VERSION}"],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and FUN_BIN.exists(), f"npm install failed:\n{done.stderr[-3000:]}"
    home = tmp_path_factory.mktemp("fun-home")
    (home / ".fcli").mkdir()
    (home / ".fcli" / "config.yaml").write_text("report: false\n", encoding="utf-8")
    return Fun(home)
