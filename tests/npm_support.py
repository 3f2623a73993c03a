"""Installing a pinned npm package for the tests that run a real Node tool or SDK (fun, ali-oss).

Installed once per machine into ``~/.cache/ossfaces/npm/<name>@<version>/`` and shared by every run and clone
(:mod:`ossfaces_tools.npm`, the same cache ``ossfaces package`` keeps Pyodide in). Needs Node + npm on PATH.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ossfaces_tools import npm


def npm_install(package: str, version: str, provides: str) -> Path:
    """The prefix of ``package@version`` (installed on first use); ``provides`` is a file a complete install has."""
    try:
        return npm.install(package, version, provides)
    except npm.NpmError as exc:
        pytest.fail(str(exc))
