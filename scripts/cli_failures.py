"""Print, for each CLI failure a user can cause, what ``ossfaces`` shows: exit status, lines, tracebacks.

Each case runs the real command as a subprocess against a local stack this script starts (ephemeral ports). The CLI
under test is the checkout given with ``--tree`` (default: this one), so the same cases can be printed for an older
commit (``git archive <commit> | tar -x -C /tmp/old`` then ``--tree /tmp/old``)::

    .venv/bin/python scripts/cli_failures.py [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="The checkout whose CLI is run.")
    tree = parser.parse_args().tree.resolve()
    sys.path[:0] = [str(ROOT / d) for d in ("function", "localstack", "tools")]
    from ossfaces_localstack.stack import LocalStack

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tree / d) for d in ("function", "localstack", "tools"))}
    env = {k: v for k, v in env.items() if not k.startswith(("ALIBABA_CLOUD_", "OSSFACES_"))}
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as closed, socket.socket() as busy:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        refused, taken = f"http://127.0.0.1:{closed.getsockname()[1]}", str(busy.getsockname()[1])
        broken = Path(tmp) / "broken"
        broken.mkdir()
        (broken / "s.yaml").write_text("resources:\n  f: [unclosed\n", encoding="utf-8")
        with LocalStack(Path(tmp) / "stack", project_dir=ROOT, fsync=False) as stack:
            assert stack.api is not None
            oss, fc = stack.oss, stack.api.endpoint
            keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong"}
            good = {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret}
            at = ["--oss-endpoint", oss.endpoint, "--region", oss.region]
            to_fc = ["--fc-endpoint", fc, "--service", "ossfaces", "--function", "ossfaces"]
            event = str(ROOT / "events" / "oss_put_jpg.json")
            free = ["--fc-port", "0", "--imm-port", "0"]
            cases = {
                "stats, wrong secret": (["stats", stack.bucket, *at, "--no-progress"], keys),
                "people, wrong secret": (["people", stack.bucket, *at, "--no-progress"], keys),
                "people forget, wrong secret": (["people", "forget", stack.bucket, "1", "--yes", *at], keys),
                "backfill, wrong secret": (["backfill", stack.bucket, *at, *to_fc, "--no-progress"], keys),
                "stats, refused": (["stats", stack.bucket, "--oss-endpoint", refused, "--no-progress"], keys),
                "people, refused": (["people", stack.bucket, "--oss-endpoint", refused, "--no-progress"], keys),
                "people name, refused": (["people", "name", stack.bucket, "1", "x", "--oss-endpoint", refused], keys),
                "backfill, refused": (["backfill", stack.bucket, "--oss-endpoint", refused, *to_fc], keys),
                "invoke, refused": (["invoke", event, "--endpoint", refused], {}),
                "stats, no credentials": (["stats", stack.bucket, *at, "--no-progress"], {}),
                "stats, bad bucket name": (["stats", "B", *at, "--no-progress"], {**keys, **good}),
                "up, busy port": (["up", "--port", taken, *free, "--data-dir", str(Path(tmp) / "up")], {}),
                "up, s.yaml not YAML": (
                    ["up", "--project-dir", str(broken), "--port", "0", *free, "--data-dir", tmp],
                    {},
                ),
                "invoke, s.yaml not YAML": (["invoke", event, "--project-dir", str(broken)], {}),
            }
            print(f"CLI of {tree}")
            print(f"{'case':32s} {'exit':>4s} {'lines':>5s} {'tracebacks':>10s}  last line")
            for name, (argv, extra) in cases.items():
                done = subprocess.run([sys.executable, "-m", "ossfaces_tools.commands", *argv], env={**env, **extra},
                                      capture_output=True, text=True, timeout=300, check=False, cwd=tree)  # fmt: skip
                text = done.stdout + done.stderr
                lines = [line for line in text.splitlines() if line.strip()]
                last = lines[-1][:100] if lines else ""
                print(f"{name:32s} {done.returncode:4d} {len(lines):5d} {text.count('Traceback'):10d}  {last}")


if __name__ == "__main__":
    main()
