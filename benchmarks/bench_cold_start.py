"""Cold start of the function: a new process → first ``<key>.faces.json`` written, engine ``imm`` on the local stack.

Run: ``.venv/bin/python benchmarks/bench_cold_start.py [--rounds 5]``. Prints figures; asserts that each result exists.

Two ways FC starts the function, each measured from the moment its process is spawned until the invocation that wrote
the result has returned (the local OSS, with the local engine behind ``imm/detectface``, is already up and warm, as IMM
is in the cloud):

- ``custom``: ``function/bootstrap`` (template.yml's custom runtime): spawn → listening → ``/initialize`` → ``/invoke``;
- ``built-in``: a fresh interpreter that imports ``index`` and calls ``initializer`` then ``handler``, as FC's python3.10
  runtime does (its own runtime start-up is not included: it is FC's, not ours).

Each both without bytecode and with it. FC's ``/code`` is read-only, so Python cannot cache what it compiles there: a
bundle without ``.pyc`` files compiles every module it imports on every cold start; ``ossfaces package`` now ships
CPython 3.10 ``.pyc`` files (``ossfaces_tools.bytecode``). This machine runs 3.11, so the two cases are reproduced with
its own bytecode: "no bytecode" = an empty ``PYTHONPYCACHEPREFIX`` that Python may not write to (FC with the old
bundle), "bytecode" = a prefix filled by one earlier run (FC with the new bundle).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools")]

import oss2  # noqa: E402

from ossfaces_localstack.fc.runner import BootstrapRunner  # noqa: E402
from ossfaces_localstack.stack import LocalStack  # noqa: E402

BUILT_IN = """
import json, sys, time
sys.path.insert(0, {code!r})
from types import SimpleNamespace as NS
import index
event, creds = sys.stdin.buffer.read(), json.loads(sys.argv[1])
context = NS(request_id="cold-start", credentials=NS(**creds), region="cn-hangzhou",
             function=NS(name="ossfaces", handler="index.handler", memory=1024, timeout=120))
index.initializer(context)
print(json.dumps(index.handler(event, context)))
"""


def photo() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def event_for(bucket: oss2.Bucket, key: str) -> bytes:
    payload = json.loads((ROOT / "events" / "oss_put_jpg.json").read_text(encoding="utf-8"))
    head = bucket.head_object(key)
    record = payload["events"][0]
    record["oss"]["bucket"]["name"] = bucket.bucket_name
    record["oss"]["object"].update(key=key, size=head.content_length, eTag=head.etag)
    return json.dumps(payload).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    body = photo()
    with tempfile.TemporaryDirectory() as data_dir:
        stack = LocalStack(Path(data_dir), project_dir=ROOT, fc_port=None, fsync=False)
        stack.triggers = []  # the function's triggers stay quiet: this benchmark starts the function itself
        stack.start()
        bucket = oss2.Bucket(
            oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, stack.bucket
        )
        bucket.put_object("warm-up.jpg", body)  # the local IMM stand-in loads its models once, as IMM is always warm
        bucket.get_object("warm-up.jpg", process="imm/detectface").read()
        function = stack.function()
        cold_cache, warm_cache = Path(data_dir, "no-bytecode"), Path(data_dir, "bytecode")
        cold_cache.mkdir()
        base = {"OSSFACES_OSS_ENDPOINT": stack.oss.endpoint, "OSSFACES_ENGINE": "imm"}
        caches = {
            "no bytecode": {"PYTHONPYCACHEPREFIX": str(cold_cache), "PYTHONDONTWRITEBYTECODE": "1"},
            "bytecode": {"PYTHONPYCACHEPREFIX": str(warm_cache), "PYTHONDONTWRITEBYTECODE": ""},
        }
        figures: dict[str, list[float]] = {
            f"{kind}, {cache}": [] for kind in ("custom (bootstrap)", "built-in (python3.10 style)") for cache in caches
        }
        for n in range(args.rounds + 1):  # round 0 fills the bytecode prefix and is not counted
            for kind in figures:
                env = base | caches[kind.split(", ")[1]]
                key = f"cold/{n}-{len(figures[kind])}-{kind.split()[0]}.jpg"
                bucket.put_object(key, body)
                event = event_for(bucket, key)
                context = stack.context_for(function, f"cold-{n}")
                started = time.perf_counter()
                if kind.startswith("custom"):
                    runner = BootstrapRunner(function, env)
                    runner.start()
                    result = runner.run(event, context)
                    elapsed = time.perf_counter() - started
                    runner.stop()
                    assert result.ok, result.error_message
                else:
                    creds = json.dumps(vars(context.credentials))
                    subprocess.run(
                        [sys.executable, "-c", BUILT_IN.format(code=str(ROOT / "function")), creds],
                        input=event, env=os.environ | env, check=True, capture_output=True,
                    )  # fmt: skip
                    elapsed = time.perf_counter() - started
                assert bucket.object_exists(key + ".faces.json"), key
                if n:
                    figures[kind].append(elapsed)
        stack.stop()
    print(f"cold start, process spawn → first result written ({args.rounds} rounds, load {os.getloadavg()[0]:.1f}):")
    for kind, values in figures.items():
        print(f"  {kind:42s} median {statistics.median(values) * 1000:6.0f} ms   min {min(values) * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
