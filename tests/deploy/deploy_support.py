"""Helpers of the deploy tests: the repository root, and running the real ``fun`` CLI (npm @alicloud/fun 3.6.24).

``fun`` is installed once per machine into ``~/.cache/ossfaces/npm/`` and reused (``npm_support``). It is run offline: HOME points at a fake
``~/.fcli/config.yaml`` with ``report: false`` (no analytics), ``FUN_DISABLE_VERSION_CHECK=1`` (no npm update check),
and ``netguard.js`` refuses and records any network connection, which the tests assert never happens.

The packaging test needs PyPI (marker ``network``); everything else here works offline once fun is cached.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ossfaces_tools import npm

REPO = Path(__file__).resolve().parents[2]
FUN_VERSION = "3.6.24"
FUN_CACHE = npm.prefix("@alicloud/fun", FUN_VERSION)
FUN_BIN = FUN_CACHE / "node_modules" / ".bin" / "fun"
NETGUARD = Path(__file__).with_name("netguard.js")


@dataclass(frozen=True)
class FunResult:
    returncode: int
    output: str
    connections: list[str]


@dataclass(frozen=True)
class Fun:
    """Runs ``fun validate`` offline in a throw-away HOME."""

    home: Path

    def validate(self, template: Path) -> FunResult:
        netlog = self.home / "net.log"
        netlog.unlink(missing_ok=True)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "FUN_DISABLE_VERSION_CHECK": "1",
            "NO_UPDATE_NOTIFIER": "1",
            "NODE_OPTIONS": f"--require {NETGUARD}",
            "NETGUARD_LOG": str(netlog),
        }
        done = subprocess.run(
            [str(FUN_BIN), "validate", "-t", str(template)],
            capture_output=True, text=True, env=env, timeout=120, check=False, cwd=template.parent,
        )  # fmt: skip
        connections = netlog.read_text().splitlines() if netlog.exists() else []
        return FunResult(done.returncode, done.stdout + done.stderr, connections)
