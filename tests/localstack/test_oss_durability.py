"""Restart persistence and crash safety: objects survive a restart; a kill -9 mid-upload leaves no torn object."""

from __future__ import annotations

import concurrent.futures
import hashlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from ossfaces.localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, LocalOss
from ossfaces.localstack.oss.process import free_port, spawn


def test_restart_keeps_objects_metadata_and_uploads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with LocalOss(data, buckets=["keep"]) as s:
        b = oss2.Bucket(oss2.Auth(s.access_key_id, s.access_key_secret), s.endpoint, "keep")
        b.put_object("x/1.jpg", b"one", headers={"x-oss-meta-a": "b", "x-oss-tagging": "t=1"})
        uid = b.init_multipart_upload("pending").upload_id
        b.upload_part("pending", uid, 1, b"p")
    with LocalOss(data) as s:
        b = oss2.Bucket(oss2.Auth(s.access_key_id, s.access_key_secret), s.endpoint, "keep")
        assert b.get_object("x/1.jpg").read() == b"one"
        assert b.head_object("x/1.jpg").headers["x-oss-meta-a"] == "b"
        assert b.get_object_tagging("x/1.jpg").tag_set.tagging_rule == {"t": "1"}
        assert [p.part_number for p in b.list_parts("pending", uid).parts] == [1]


def kill9_during_uploads(data: Path, uploads: int = 50, size: int = 2 * 1024 * 1024) -> tuple[int, int]:
    """Run ``uploads`` concurrent PUTs, SIGKILL the server mid-way, restart; return (complete, absent). Raises on a torn object."""
    port = free_port()
    proc = spawn(data, port, "crash")
    bucket = oss2.Bucket(
        oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), f"http://127.0.0.1:{port}", "crash"
    )
    done: list[str] = []
    bodies = {f"obj/{i:03d}": hashlib.sha256(str(i).encode()).digest() * (size // 32) for i in range(uploads)}

    def slow_chunks(body: bytes, delay: float) -> Iterator[bytes]:
        for i in range(0, len(body), 256 * 1024):
            time.sleep(delay)
            yield body[i : i + 256 * 1024]

    def put(key: str) -> None:
        delay = 0.015 * (int(key[-3:]) % 10)  # uploads lasting 0 to ~1 s, so the kill lands in the middle of some
        try:
            bucket.put_object(key, slow_chunks(bodies[key], delay))
            done.append(key)
        except Exception:
            pass  # the server died under this upload: the object must then be absent or complete

    with concurrent.futures.ThreadPoolExecutor(uploads) as pool:
        futures = [pool.submit(put, k) for k in bodies]
        deadline = time.time() + 10
        while len(done) < uploads // 5 and time.time() < deadline:  # kill once some finished and others are mid-way
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        concurrent.futures.wait(futures)
    proc = spawn(data, port, "crash")
    try:
        complete = absent = 0
        for key, body in bodies.items():
            try:
                got = bucket.get_object(key).read()
            except oss2.exceptions.NoSuchKey:
                assert key not in done, f"acknowledged upload {key} lost"
                absent += 1
                continue
            assert got == body, f"torn object {key}: {len(got)} bytes"
            complete += 1
        leftovers = list((data / "tmp").iterdir())
        assert leftovers == [], leftovers
        return complete, absent
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_kill9_during_concurrent_uploads(tmp_path: Path) -> None:
    complete, absent = kill9_during_uploads(tmp_path / "data", uploads=50)
    print(f"after kill -9: {complete} complete, {absent} absent, 0 torn")
    assert complete + absent == 50
