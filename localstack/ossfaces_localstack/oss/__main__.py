"""``python -m ossfaces_localstack.oss``: run the local OSS standalone (benchmarks, crash tests, other tools)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from .localoss import LocalOss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ossfaces_localstack.oss", description=__doc__)
    p.add_argument("--data-dir", type=Path, default=Path(".localstack/oss"), help="where objects are stored")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    p.add_argument("--port", type=int, default=9000, help="port (0 picks a free one)")
    p.add_argument("--region", default="cn-hangzhou")
    p.add_argument("--access-key-id", default=DEFAULT_ACCESS_KEY_ID)
    p.add_argument("--access-key-secret", default=DEFAULT_ACCESS_KEY_SECRET)
    p.add_argument("--bucket", action="append", default=[], help="bucket to create at start (repeatable)")
    p.add_argument("--no-fsync", action="store_true", help="skip fsync (faster, not crash-safe against power loss)")
    p.add_argument("--restore-seconds", type=float, default=60.0,
                   help="how long RestoreObject takes before an archived object can be read (OSS: ~1 min for Archive)")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    oss = LocalOss(
        args.data_dir,
        host=args.host,
        port=args.port,
        region=args.region,
        credentials={args.access_key_id: args.access_key_secret},
        buckets=args.bucket,
        fsync=not args.no_fsync,
        restore_seconds=args.restore_seconds,
    )
    oss.serve_forever(on_bound=lambda o: print(o.describe(), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
