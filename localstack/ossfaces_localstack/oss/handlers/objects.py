"""Object operations: Put, Append, Copy, Get/Head (conditions, ranges, response overrides), Delete, tagging."""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import IO
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from .. import checksums, xmlcodec
from ..backend import Backend, write_headers
from ..call import Call, to_wire, xml_bytes_response, xml_response
from ..errors import OssError, invalid_argument
from ..limits import tags_from_pairs
from ..names import check_key, http_date, iso8601
from ..storage import ObjectAttrs, ObjectMeta, appendable_etag, position_not_equal
from .conditions import check_conditions, parse_range
from .restore import restore_header
from .symlinks import open_object

READ_CHUNK = 256 * 1024
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def new_attrs(c: Call) -> ObjectAttrs:
    """The storage class, ACL and server-side encryption a write names (refused before its body is read)."""
    sse, sse_data, sse_key = c.server_side_encryption()
    return ObjectAttrs(storage_class=c.storage_class(), acl=c.object_acl() or "default", sse=sse, sse_data=sse_data,
                       sse_key=sse_key)  # fmt: skip


async def put_object(be: Backend, c: Call) -> Response:
    forbid = c.forbid_overwrite()
    tags, user_meta, attrs = c.tagging_header(), c.user_meta(), new_attrs(c)  # refused before the body is read
    w = await c.receive_body(be.storage)
    md5 = base64.b64encode(w.md5).decode()
    meta = await be.commit_and_emit(
        c,
        "PutObject",
        be.storage.commit_object,
        c.b,
        c.k,
        w,
        content_type=c.content_type(),
        headers=c.stored_headers(),
        user_meta=user_meta,
        tags=tags,
        attrs=replace(attrs, md5=md5),
        forbid_overwrite=forbid,
    )
    headers = write_headers(meta)
    headers["Content-MD5"] = md5
    return Response(b"", 200, headers=headers)


async def append_object(be: Backend, c: Call) -> Response:
    pos_s = c.query.get("position", "")
    if not pos_s.isdigit():
        raise invalid_argument("Position is not a valid number.", "position", pos_s)
    position = int(pos_s)
    try:
        current: ObjectMeta | None = await run_in_threadpool(be.storage.head, c.b, c.k)
    except OssError as e:
        if e.code != "NoSuchKey":
            raise
        current = None
    if current is None:
        if position != 0:
            raise position_not_equal(0, 0)
        tags, user_meta, attrs = c.tagging_header(), c.user_meta(), new_attrs(c)
        w = await c.receive_body(be.storage)
        meta = await be.commit_and_emit(
            c,
            "AppendObject",
            be.storage.commit_object,
            c.b,
            c.k,
            w,
            content_type=c.content_type(),
            headers=c.stored_headers(),
            user_meta=user_meta,
            tags=tags,
            attrs=attrs,
            object_type="Appendable",
            etag=appendable_etag(w.crc, w.size),
            must_not_exist=position_not_equal(0, 0),
            event_delta=w.size,
            event_position=0,
        )
    else:
        if current.object_type != "Appendable":
            raise OssError(409, "ObjectNotAppendable", "The object is not appendable")
        if current.size != position:
            raise position_not_equal(current.size, current.crc)
        w = await c.receive_body(be.storage, init_crc=current.crc)
        meta = await be.commit_and_emit(
            c,
            "AppendObject",
            be.storage.append,
            c.b,
            c.k,
            position,
            w,
            expected=current,
            event_delta=w.size,
            event_position=position,
        )
    headers = write_headers(meta)
    headers["x-oss-next-append-position"] = str(meta.size)
    return Response(b"", 200, headers=headers)


def copy_source(c: Call) -> tuple[str, str]:
    """(bucket, key) named by ``x-oss-copy-source: /bucket/url-encoded-key``."""
    source = c.header("x-oss-copy-source")
    src_bucket, _, src_key_q = source.lstrip("/").partition("/")
    return src_bucket, check_key(unquote(src_key_q.split("?", 1)[0]))


async def copy_object(be: Backend, c: Call) -> Response:
    src_bucket, src_key = copy_source(c)
    forbid = c.forbid_overwrite()
    directive = c.header("x-oss-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise invalid_argument("Invalid metadata directive.", "x-oss-metadata-directive", directive)
    # what REPLACE takes from the request, validated before a byte is copied
    replaced = (c.content_type(), c.stored_headers(), c.user_meta()) if directive == "REPLACE" else None
    new_tags = c.tagging_header() if c.header("x-oss-tagging-directive").upper() == "REPLACE" else None
    attrs = new_attrs(c)

    def work() -> ObjectMeta:
        meta, f, _ = open_object(be.storage, src_bucket, src_key, body=True)
        with f:
            check_conditions(c, meta, prefix="x-oss-copy-source-")
            w = be.storage.new_writer()
            try:
                remaining = meta.size
                while remaining > 0 and (chunk := f.read(min(READ_CHUNK * 4, remaining))):
                    w.write(chunk)
                    remaining -= len(chunk)
            except BaseException:
                w.discard()
                raise
        ctype, headers, user_meta = replaced or (meta.content_type, meta.headers, meta.user_meta)
        tags = meta.tags if new_tags is None else new_tags
        etag = meta.etag if meta.object_type != "Appendable" else None
        announce = be.announcement(c, "CopyObject")
        new = be.storage.commit_object(
            c.b,
            c.k,
            w,
            content_type=ctype,
            headers=headers,
            user_meta=user_meta,
            tags=tags,
            etag=etag,
            attrs=replace(attrs, md5=meta.attrs.md5),
            forbid_overwrite=forbid,
            announce=announce,
        )
        be.emit(new, announce)
        return new

    meta = await run_in_threadpool(work)
    root = xmlcodec.document(
        "CopyObjectResult", [("LastModified", iso8601(meta.mtime)), ("ETag", checksums.quoted(meta.etag))]
    )
    response = xml_response(root)
    response.headers.update(write_headers(meta))
    return response


def object_headers(meta: ObjectMeta, link: ObjectMeta | None = None) -> dict[str, str]:
    """What GET and HEAD answer about an object; through a symlink (``link``), the target's body and the link's own
    user metadata and tags (oss2's suite: HEAD of a link gives the target's length and ETag, the link's x-oss-meta-*)."""
    own = link or meta
    headers = {
        "Content-Type": to_wire(meta.content_type),
        "ETag": checksums.quoted(meta.etag),
        "Last-Modified": http_date(meta.mtime),
        "x-oss-object-type": own.object_type,
        "x-oss-storage-class": meta.attrs.storage_class,
        "x-oss-hash-crc64ecma": str(meta.crc),
        "Accept-Ranges": "bytes",
    }
    if meta.attrs.md5:
        headers["Content-MD5"] = meta.attrs.md5
    headers |= meta.attrs.sse_headers()
    if (restore := restore_header(meta.attrs, time.time())) is not None:
        headers["x-oss-restore"] = restore
    for k, v in {**meta.headers, **own.user_meta}.items():
        headers[k] = to_wire(v)
    if own.tags:
        headers["x-oss-tagging-count"] = str(len(own.tags))
    if meta.object_type == "Appendable":
        headers["x-oss-next-append-position"] = str(meta.size)
    return headers


async def get_object(be: Backend, c: Call) -> Response:
    return await _get(be, c, head=False)


async def head_object(be: Backend, c: Call) -> Response:
    return await _get(be, c, head=True)


async def get_object_meta(be: Backend, c: Call) -> Response:
    meta = await run_in_threadpool(be.storage.head, c.b, c.k)
    headers = {
        "ETag": checksums.quoted(meta.etag),
        "Content-Length": str(meta.size),
        "Last-Modified": http_date(meta.mtime),
        "x-oss-hash-crc64ecma": str(meta.crc),
    }
    return Response(b"", 200, headers=headers)


async def _get(be: Backend, c: Call, *, head: bool) -> Response:
    meta, f, named = await run_in_threadpool(lambda: open_object(be.storage, c.b, c.k, body=not head))
    try:
        headers = object_headers(meta, named if named is not meta else None)
        if check_conditions(c, meta):
            f.close()
            return Response(b"", 304, headers={k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")})
        for param, header in RESPONSE_OVERRIDES.items():
            if param in c.query:
                headers[header] = to_wire(c.query[param])
        status, first, length = 200, 0, meta.size
        spec = c.header("range")
        if spec:
            rng = parse_range(spec, meta.size)
            if rng is not None:
                first, last = rng
                status, length = 206, last - first + 1
                headers["Content-Range"] = f"bytes {first}-{last}/{meta.size}"
                headers.pop("Content-MD5", None)  # it describes the whole body, not this part
        if not head and status == 200 and gzip_applies(c, meta):
            for name in ("ETag", "Accept-Ranges", "Content-MD5"):
                headers.pop(name, None)
            headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}  # no Content-Length: chunked
            return StreamingResponse(_gzipped(_stream_file(f, 0, meta.size)), 200, headers=headers)
        headers["Content-Length"] = str(length)
        if head:
            f.close()
            return Response(b"", status, headers=headers)
    except BaseException:
        f.close()
        raise
    return StreamingResponse(_stream_file(f, first, length), status, headers=headers)


GZIP_TYPES = frozenset(
    (
        "text/cache-manifest", "text/xml", "text/css", "text/html", "text/plain", "application/javascript",
        "application/x-javascript", "application/rss+xml", "application/json", "text/json",
    )
)  # fmt: skip
GZIP_MIN_BYTES = 1024


def gzip_applies(c: Call, meta: ObjectMeta) -> bool:
    """OSS compresses a whole GET of a web text object of at least 1 KB for a client that accepts gzip (OSS FAQ "How
    do I compress objects that I download from OSS in the GZIP format"): no ETag, Content-Length or Accept-Ranges
    then, chunked. oss2 sends ``Accept-Encoding: identity`` unless told otherwise."""
    accepted = {part.split(";")[0].strip().lower() for part in c.header("accept-encoding").split(",")}
    kind = meta.content_type.split(";")[0].strip().lower()
    return "gzip" in accepted and kind in GZIP_TYPES and meta.size >= GZIP_MIN_BYTES


async def _gzipped(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    async for chunk in chunks:
        if packed := packer.compress(chunk):
            yield packed
    yield packer.flush()


async def _stream_file(f: IO[bytes], first: int, length: int) -> AsyncIterator[bytes]:
    try:
        await run_in_threadpool(f.seek, first)
        remaining = length
        while remaining > 0:
            chunk = await run_in_threadpool(f.read, min(READ_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        f.close()


async def delete_object(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.delete, c.b, c.k)
    return Response(b"", 204)


async def get_tagging(be: Backend, c: Call) -> Response:
    meta = await run_in_threadpool(be.storage.head, c.b, c.k)
    return xml_bytes_response(xmlcodec.tagging_document(meta.tags))


async def put_tagging(be: Backend, c: Call) -> Response:
    body = await c.read_xml_body()
    tags = tags_from_pairs(xmlcodec.parse_tagging(body))
    await run_in_threadpool(be.storage.set_tags, c.b, c.k, tags)
    return Response(b"", 200)


async def delete_tagging(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.set_tags, c.b, c.k, {})
    return Response(b"", 204)
