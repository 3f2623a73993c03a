"""Fixtures of the deploy tests (helpers in ``deploy_support``); registers the ``network`` marker."""

from __future__ import annotations

import pytest
from npm_support import npm_install

from .deploy_support import FUN_BIN, FUN_CACHE, FUN_VERSION, Fun


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "network: needs PyPI (package index) reachable")


@pytest.fixture(scope="session")
def fun(tmp_path_factory: pytest.TempPathFactory) -> Fun:
    """The real fun CLI, installed from npm once per machine (about a minute), then reused (``npm_support``)."""
    npm_install("@alicloud/fun", FUN_VERSION, str(FUN_BIN.relative_to(FUN_CACHE)))
    home = tmp_path_factory.mktemp("fun-home")
    (home / ".fcli").mkdir()
    (home / ".fcli" / "config.yaml").write_text("report: false\n", encoding="utf-8")
    return Fun(home)
