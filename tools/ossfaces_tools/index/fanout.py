"""Running the index's chunks: a local process pool, or one asynchronous FC invocation per chunk (the fan-out).

Both run the same part writer (``ossfaces.indexpart.write_part``, deployed with the function) and both end the same
way: the coordinator waits until every planned part exists and reads its row counts from the part's metadata. A part
already there (a resumed run, a retry, a second delivery) is not written again.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Protocol

import oss2

from ossfaces.events import INDEX_PART
from ossfaces_tools.access import BucketAccess, ToolError
from ossfaces_tools.backfill.dispatch import ASYNC_PAYLOAD_LIMIT, FcDispatcher, TokenBucket
from ossfaces_tools.index.layout import IndexStore, PartInfo

Report = Any  # Callable[[str], None]


def part_event(bucket: oss2.Bucket, part: str, chunk: list[tuple[str, str]], suffix: str, gen: int) -> dict[str, Any]:
    """The invocation payload of one chunk (``ossfaces.events.IndexPartEvent``)."""
    region = getattr(bucket, "region", None) or "cn-hangzhou"
    return {"ossfaces": INDEX_PART, "version": 1, "bucket": bucket.bucket_name, "region": region, "part": part,
            "gen": gen, "suffix": suffix, "results": [list(pair) for pair in chunk]}  # fmt: skip


class Fanout(Protocol):
    mode: str

    def run(
        self,
        store: IndexStore,
        keys: list[str],
        events: list[dict[str, Any]],
        generation: int,
        rate: float | None,
        wait: float,
        report: Report,
    ) -> list[PartInfo]: ...  # fmt: skip


def _existing(store: IndexStore, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    folder = keys[0].rsplit("/", 1)[0] + "/"
    return {o.key for o in oss2.ObjectIteratorV2(store.bucket, prefix=folder, max_keys=1000)}


def _collect(store: IndexStore, keys: list[str], generation: int) -> list[PartInfo]:
    infos = []
    for key in keys:
        info = store.part_info(key, generation)
        if info is None:
            raise ToolError(f"index part oss://{store.bucket.bucket_name}/{key} was not written")
        infos.append(info)
    return infos


def _write(access: BucketAccess, event: dict[str, Any]) -> tuple[int, int, bool]:
    """A pool worker: the deployed function's part writer, in this machine's process."""
    from ossfaces.indexpart import write_part

    bucket = access.open()
    results = [(k, e) for k, e in event["results"]]
    return write_part(bucket, event["part"], results, event["suffix"], event["gen"])


class LocalPool:
    """The chunks on ``workers`` processes of this machine (each reads its results on 16 threads)."""

    mode = "local"

    def __init__(self, access: BucketAccess, workers: int = 2) -> None:
        self.access = access
        self.workers = workers

    def run(self, store: IndexStore, keys: list[str], events: list[dict[str, Any]], generation: int,
            rate: float | None, wait: float, report: Report) -> list[PartInfo]:  # fmt: skip
        done = _existing(store, keys)
        todo = [e for k, e in zip(keys, events, strict=True) if k not in done]
        if todo:
            pace = TokenBucket(rate, burst=max(1, int(rate))) if rate else None
            with ProcessPoolExecutor(self.workers, mp_context=get_context("spawn")) as pool:
                futures = []
                for event in todo:
                    if pace:
                        pace.acquire()
                    futures.append(pool.submit(_write, self.access, event))
                for n, future in enumerate(futures, 1):
                    future.result()
                    if n % 20 == 0 or n == len(futures):
                        report(f"{n}/{len(futures)} parts written")
        return _collect(store, keys, generation)


class FcFanout:
    """One asynchronous invocation per chunk through ``fc2``, paced at ``rate``; then wait for the parts."""

    mode = "fc"

    def __init__(self, dispatcher: FcDispatcher, poll: float = 1.0) -> None:
        self.dispatcher = dispatcher
        self.poll = poll

    def run(self, store: IndexStore, keys: list[str], events: list[dict[str, Any]], generation: int,
            rate: float | None, wait: float, report: Report) -> list[PartInfo]:  # fmt: skip
        done = _existing(store, keys)
        pace = TokenBucket(rate, burst=max(1, int(rate))) if rate else None
        sent = 0
        for key, event in zip(keys, events, strict=True):
            if key in done:
                continue
            payload = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            if len(payload) > ASYNC_PAYLOAD_LIMIT:
                raise ToolError(
                    f"a chunk's event is {len(payload)} bytes, over FC's {ASYNC_PAYLOAD_LIMIT}: lower --chunk"
                )
            if pace:
                pace.acquire()
            self.dispatcher.invoke(payload)
            sent += 1
        report(f"{sent} invocations sent, {len(done)} parts already there; waiting for the parts")
        deadline = time.monotonic() + wait
        missing = [k for k in keys if k not in done]
        while missing:
            present = _existing(store, keys)
            missing = [k for k in missing if k not in present]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise ToolError(f"{len(missing)} of {len(keys)} parts not written after {wait:.0f} s (FC may still be "
                                "retrying them): run the same command again to wait for them and resend what is lost")  # fmt: skip
            time.sleep(self.poll)
        return _collect(store, keys, generation)
