"""``GET <key>?x-oss-process=...``: the registered processor with the longest matching prefix answers."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..backend import Backend
from ..call import Call
from ..errors import invalid_argument, invalid_object_state
from ..events import Processor, ProcessRequest
from .conditions import check_conditions


def processor_for(processors: dict[str, Processor], process: str) -> Processor | None:
    best: tuple[int, Processor] | None = None
    for prefix, fn in processors.items():
        matches = process == prefix or (process.startswith(prefix) and process[len(prefix)] in ",/|")
        if matches and (best is None or len(prefix) > best[0]):
            best = (len(prefix), fn)
    return best[1] if best else None


async def get_processed(be: Backend, c: Call) -> Response:
    process = c.query["x-oss-process"]
    meta = await run_in_threadpool(be.storage.head, c.b, c.k)
    if check_conditions(c, meta):  # a processed GET is still a GET: If-Match and friends apply first
        return Response(b"", 304)
    if meta.attrs.frozen(time.time()):  # processing reads the body: an archived object must be restored first
        raise invalid_object_state()
    processor = processor_for(be.processors, process)
    if processor is None:
        name = process.split(",", 1)[0]
        raise invalid_argument(
            f"The process '{name}' is not supported: no processor is registered for it on this local OSS "
            "(on Alibaba Cloud this means the service behind it, e.g. an IMM project, is not bound to the bucket).",
            "x-oss-process",
            process,
        )
    req = ProcessRequest(c.b, c.k, process, be.storage.blob_path(meta), meta.size, meta.etag, meta.content_type)
    status, ctype, body = await run_in_threadpool(processor, req)  # a ProcessError becomes OSS error XML
    # no x-oss-hash-crc64ecma here: it describes the source object, not this body, and oss2 would reject it
    return Response(body, status, media_type=ctype)
