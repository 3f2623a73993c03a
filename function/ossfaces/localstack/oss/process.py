"""The local OSS as a separate process: what crash tests and memory benchmarks need (a server they can kill -9 or measure)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

FUNCTION_DIR = Path(__file__).resolve().parents[3]


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on at the moment (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spawn(data_dir: Path, port: int, bucket: str, timeout: float = 20.0) -> subprocess.Popen[bytes]:
    """``python -m ossfaces.localstack.oss`` on ``port`` with ``bucket``; returns once it accepts connections."""
    env = {**os.environ, "PYTHONPATH": str(FUNCTION_DIR)}
    command = [
        sys.executable,
        "-m",
        "ossfaces.localstack.oss",
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
