"""README's first snippet, taken from README.md, pasted into Python's prompt against a running local stack.

The stack is the one ``ossfaces up`` runs from this repository (its s.yaml, engine ``imm`` answered by the local
engine), on a free port: 9400 may be held by a developer's own ``ossfaces up`` or by another test worker, so the
endpoint is the one string of the snippet that is replaced (the test checks it appears exactly once).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ossfaces_localstack.oss.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from ossfaces_localstack.snippet import PHOTO, upload_snippet
from ossfaces_localstack.stack import DEFAULT_OSS_PORT, LocalStack
from ossfaces_tools.commands.stack import started

ROOT = Path(__file__).resolve().parents[2]
README_ENDPOINT = f"http://127.0.0.1:{DEFAULT_OSS_PORT}"


def readme_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README has no python snippet"
    return str(blocks[0])


def test_readme_snippet_waits_for_the_result_on_a_running_stack(tmp_path: Path, face_jpeg: bytes) -> None:
    snippet = readme_snippet()
    with LocalStack(tmp_path / "stack", project_dir=ROOT, fc_port=None, fsync=False) as stack:
        oss = stack.oss
        assert snippet == upload_snippet(
            README_ENDPOINT, stack.bucket, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
        )
        assert started(stack).endswith(
            upload_snippet(oss.endpoint, stack.bucket, oss.access_key_id, oss.access_key_secret)
        )
        assert snippet.count(README_ENDPOINT) == 1
        (tmp_path / PHOTO).write_bytes(face_jpeg)
        pasted = subprocess.run(
            [sys.executable, "-q", "-i"],  # Python's prompt, fed the lines as a paste would
            input=snippet.replace(README_ENDPOINT, oss.endpoint),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert pasted.returncode == 0 and "Error" not in pasted.stderr, pasted.stderr
    document = json.loads(pasted.stdout)  # what the snippet prints, and nothing else
    assert document["Source"]["Key"] == "photos/me.jpg" and len(document["Faces"]) == 1
