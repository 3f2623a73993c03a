"""The local OSS as a separate process: what crash tests and memory benchmarks need (a server they can kill -9 or measure)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import ossfaces
import ossfaces_localstack

SOURCE_ROOTS = tuple(
    str(Path(str(package.__file__)).resolve().parents[1]) for package in (ossfaces, ossfaces_localstack)
)
"""``function/`` and ``localstack/``: what a child process needs on its path to run this checkout's local stack."""


def child_env(*extra_roots: str) -> dict[str, str]:
    """This environment with this checkout's source roots (and ``extra_roots``) first on ``PYTHONPATH``."""
    inherited = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (*extra_roots, *SOURCE_ROOTS, inherited) if p)}


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on at the moment (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spawn(data_dir: Path, port: int, bucket: str, timeout: float = 20.0) -> subprocess.Popen[bytes]:
    """``python -m ossfaces_localstack.oss`` on ``port`` with ``bucket``; returns once it accepts connections."""
    env = child_env()
    command = [
        sys.executable,
        "-m",
        "ossfaces_localstack.oss",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--bucket",
        bucket,
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the local OSS did not listen on port {port} within {timeout} s")
