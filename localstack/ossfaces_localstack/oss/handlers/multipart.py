"""Multipart upload: initiate, upload part, complete (listed parts or ``x-oss-complete-all``), abort, list parts."""

from __future__ import annotations

import base64

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import checksums, xmlcodec
from ..backend import Backend, write_headers
from ..call import Call, xml_response
from ..errors import OssError, invalid_argument, no_such_upload
from ..names import iso8601
from ..storage import MAX_PART_NUMBER, ObjectMeta, Part, Upload
from .conditions import check_conditions
from .objects import copy_source, new_attrs
from .symlinks import open_object

COPY_CHUNK = 1024 * 1024


async def init_upload(be: Backend, c: Call) -> Response:
    """InitiateMultipartUpload; with ``?sequential`` the parts must then arrive in order (1, 2, 3 …: UploadPart answers
    PartNotSequential otherwise) and the object gets the MD5 of its whole body, which GET returns as Content-MD5."""
    c.forbid_overwrite()
    ctype, headers, user_meta, tags = c.content_type(), c.stored_headers(), c.user_meta(), c.tagging_header()
    attrs, sequential = new_attrs(c), c.has("sequential")
    upload_id = await run_in_threadpool(
        lambda: be.storage.init_upload(
            c.b,
            c.k,
            content_type=ctype,
            headers=headers,
            user_meta=user_meta,
            tags=tags,
            attrs=attrs,
            sequential=sequential,
        )
    )
    encode = c.url_encoded
    root = xmlcodec.document(
        "InitiateMultipartUploadResult",
        xmlcodec.list_fields(
            [
                ("EncodingType", "url" if encode else None),
                ("Bucket", c.b),
                ("Key", xmlcodec.maybe_encoded(c.k, encode)),
                ("UploadId", upload_id),
            ]
        ),
    )
    response = xml_response(root)
    response.headers.update(attrs.sse_headers())
    return response


def part_number(c: Call) -> int:
    number_s = c.query.get("partNumber", "")
    if not number_s.isdigit() or not 1 <= int(number_s) <= MAX_PART_NUMBER:
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive.", "partNumber", number_s)
    return int(number_s)


def part_headers(part: Part, upload: Upload) -> dict[str, str]:
    return {
        "ETag": checksums.quoted(part.etag),
        "x-oss-hash-crc64ecma": str(part.crc),
        "Content-MD5": base64.b64encode(part.md5).decode(),
        **upload.attrs.sse_headers(),  # a part is encrypted as its upload says
    }


async def upload_part(be: Backend, c: Call) -> Response:
    number, upload_id = part_number(c), c.query.get("uploadId", "")
    c.refuse_encryption_headers()
    upload = await run_in_threadpool(be.storage.check_sequence, c.b, c.k, upload_id, number)  # before the body
    w = await c.receive_body(be.storage)
    part = await run_in_threadpool(be.storage.put_part, c.b, c.k, upload_id, number, w)
    return Response(b"", 200, headers=part_headers(part, upload))


def copy_range(c: Call, size: int) -> tuple[int, int]:
    """``(first, length)`` to copy from a source of ``size`` bytes, from ``x-oss-copy-source-range``: ``bytes=a-b``,
    ``bytes=a-`` (to the end) or ``bytes=-n`` (the last n bytes), as oss2 sends ``(a, b)``, ``(a, None)``, ``(None, n)``."""
    spec = c.header("x-oss-copy-source-range").strip()
    if not spec:
        return 0, size
    unit, _, rng = spec.partition("=")
    first_s, dash, last_s = rng.strip().partition("-")
    numbers_ok = (first_s.isdigit() or not first_s) and (last_s.isdigit() or not last_s) and (first_s or last_s)
    if unit.strip().lower() != "bytes" or not dash or not numbers_ok:
        raise invalid_argument("The x-oss-copy-source-range header is invalid.", "x-oss-copy-source-range", spec)
    if not first_s:  # the last n bytes
        first, last = max(0, size - int(last_s)), size - 1
    else:
        first, last = int(first_s), int(last_s) if last_s else size - 1
    if last < first and first < size:
        raise invalid_argument("The x-oss-copy-source-range header is invalid.", "x-oss-copy-source-range", spec)
    if first >= size or last >= size:
        raise OssError(
            416,
            "InvalidRange",
            "The specified copy range exceeds the source object's size.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return first, last - first + 1


async def upload_part_copy(be: Backend, c: Call) -> Response:
    """UploadPartCopy: a part made of a range (or all) of an existing object, under the x-oss-copy-source-if-* rules."""
    number, upload_id = part_number(c), c.query.get("uploadId", "")
    src_bucket, src_key = copy_source(c)

    def work() -> tuple[Part, Upload, ObjectMeta]:
        upload = be.storage.check_sequence(c.b, c.k, upload_id, number)
        meta, f, _ = open_object(be.storage, src_bucket, src_key, body=True)
        with f:
            check_conditions(c, meta, prefix="x-oss-copy-source-")
            first, remaining = copy_range(c, meta.size)
            w = be.storage.new_writer()
            try:
                f.seek(first)
                while remaining > 0 and (chunk := f.read(min(COPY_CHUNK, remaining))):
                    w.write(chunk)
                    remaining -= len(chunk)
                w.finish()
            except BaseException:
                w.discard()
                raise
        return be.storage.put_part(c.b, c.k, upload_id, number, w), upload, meta

    part, upload, source = await run_in_threadpool(work)
    root = xmlcodec.document(
        "CopyPartResult", [("LastModified", iso8601(part.mtime)), ("ETag", checksums.quoted(part.etag))]
    )
    response = xml_response(root)
    response.headers.update(part_headers(part, upload))
    response.headers["x-oss-copy-source-etag"] = checksums.quoted(source.etag)
    return response


async def complete_upload(be: Backend, c: Call) -> Response:
    upload_id = c.query["uploadId"]
    forbid, acl = c.forbid_overwrite(), c.object_acl()
    c.refuse_encryption_headers()
    body = await c.read_xml_body()
    chosen: list[tuple[int, str]] | None
    if c.header("x-oss-complete-all").lower() == "yes":
        if body.strip():
            raise invalid_argument(
                "Should not specify the part list when x-oss-complete-all is yes.", "x-oss-complete-all", "yes"
            )
        chosen = None
    else:
        chosen = xmlcodec.parse_complete_parts(body)

    def work() -> ObjectMeta:
        announce = be.announcement(c, "CompleteMultipartUpload")
        try:
            meta = be.storage.complete_upload(
                c.b, c.k, upload_id, chosen, forbid_overwrite=forbid, acl=acl, announce=announce
            )
        except FileNotFoundError:  # parts vanished under us: a concurrent abort
            raise no_such_upload(upload_id) from None
        be.emit(meta, announce)
        return meta

    meta = await run_in_threadpool(work)
    encode = c.url_encoded
    root = xmlcodec.document(
        "CompleteMultipartUploadResult",
        xmlcodec.list_fields(
            [
                ("EncodingType", "url" if encode else None),
                ("Location", f"/{c.b}/{c.k}"),
                ("Bucket", c.b),
                ("Key", xmlcodec.maybe_encoded(c.k, encode)),
                ("ETag", checksums.quoted(meta.etag)),
            ]
        ),
    )
    response = xml_response(root)
    response.headers.update(write_headers(meta))
    return response


async def abort_upload(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.abort_upload, c.b, c.k, c.query["uploadId"])
    return Response(b"", 204)


async def list_parts(be: Backend, c: Call) -> Response:
    upload_id = c.query["uploadId"]
    marker_s = c.query.get("part-number-marker") or "0"
    marker = int(marker_s) if marker_s.isdigit() else 0
    max_parts = c.int_param("max-parts", 1000, 1, 1000)
    _, parts = await run_in_threadpool(be.storage.list_parts, c.b, c.k, upload_id)
    after = [p for p in parts if p.part_number > marker]
    page, truncated = after[:max_parts], len(after) > max_parts
    encode = c.url_encoded
    root = xmlcodec.document(
        "ListPartsResult",
        xmlcodec.list_fields(
            [
                ("EncodingType", "url" if encode else None),
                ("Bucket", c.b),
                ("Key", xmlcodec.maybe_encoded(c.k, encode)),
                ("UploadId", upload_id),
                ("PartNumberMarker", marker),
                ("NextPartNumberMarker", page[-1].part_number if page else marker),
                ("MaxParts", max_parts),
                ("IsTruncated", "true" if truncated else "false"),
            ]
        ),
    )
    for p in page:
        node = xmlcodec.add(root, "Part")
        xmlcodec.add(node, "PartNumber", p.part_number)
        xmlcodec.add(node, "LastModified", iso8601(p.mtime))
        xmlcodec.add(node, "ETag", checksums.quoted(p.etag))
        xmlcodec.add(node, "HashCrc64ecma", str(p.crc))
        xmlcodec.add(node, "Size", p.size)
    return xml_response(root)


async def list_uploads(be: Backend, c: Call) -> Response:
    prefix = c.query.get("prefix", "")
    key_marker, id_marker = c.query.get("key-marker", ""), c.query.get("upload-id-marker", "")
    max_uploads = c.int_param("max-uploads", 1000, 1, 1000)
    uploads = await run_in_threadpool(
        lambda: be.storage.list_uploads(c.b, prefix=prefix, key_marker=key_marker, upload_id_marker=id_marker)
    )
    page, truncated = uploads[:max_uploads], len(uploads) > max_uploads
    encode = c.url_encoded

    def enc(s: str) -> str:
        return xmlcodec.maybe_encoded(s, encode)

    root = xmlcodec.document(
        "ListMultipartUploadsResult",
        xmlcodec.list_fields(
            [
                ("EncodingType", "url" if encode else None),
                ("Bucket", c.b),
                ("KeyMarker", enc(key_marker)),
                ("UploadIdMarker", id_marker),
                ("NextKeyMarker", enc(page[-1].key) if page else ""),
                ("NextUploadIdMarker", page[-1].upload_id if page else ""),
                ("Delimiter", ""),
                ("Prefix", enc(prefix)),
                ("MaxUploads", max_uploads),
                ("IsTruncated", "true" if truncated else "false"),
            ]
        ),
    )
    for u in page:
        node = xmlcodec.add(root, "Upload")
        xmlcodec.add(node, "Key", enc(u.key))
        xmlcodec.add(node, "UploadId", u.upload_id)
        xmlcodec.add(node, "StorageClass", u.attrs.storage_class)
        xmlcodec.add(node, "Initiated", iso8601(u.initiated))
    return xml_response(root)
