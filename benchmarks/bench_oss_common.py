"""Shared by the local OSS benchmarks: run the server as a subprocess (so its memory is measurable) and read RSS."""

from __future__ import annotations

import sys
from pathlib import Path

import oss2

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools")]

from ossfaces_localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: E402
from ossfaces_localstack.oss.process import free_port  # noqa: E402
from ossfaces_localstack.oss.process import spawn as start_server  # noqa: E402

__all__ = ["bucket_for", "free_port", "rss_mb", "start_server"]


def bucket_for(port: int, name: str) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), f"http://127.0.0.1:{port}", name)


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc (Linux)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]
