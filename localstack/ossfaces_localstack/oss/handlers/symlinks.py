"""Symlinks (PutSymlink, GetSymlink) and the one way every read of a body reaches it: through a symlink to its target,
and only when the object is not frozen in an archive class (OSS: "Restore objects for access")."""

from __future__ import annotations

import hashlib
import time
from typing import IO
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import checksums
from ..backend import Backend, write_headers
from ..call import Call, to_wire
from ..errors import OssError, invalid_argument, invalid_object_state
from ..names import check_key, http_date
from ..storage import ObjectAttrs, ObjectMeta, Storage


def open_object(storage: Storage, bucket: str, key: str, *, body: bool) -> tuple[ObjectMeta, IO[bytes], ObjectMeta]:
    """``(data, handle, named)``: the object whose body answers a read of ``key`` (a symlink's target, else the object
    itself), an open handle on that body, and the object ``key`` names. ``body``: the caller sends bytes (GET, copy,
    processing), which an archived object must be restored for; HEAD only needs its metadata."""
    named, f = storage.open(bucket, key)
    data = named
    if named.attrs.symlink is not None:
        f.close()
        try:
            data, f = storage.open(bucket, named.attrs.symlink)
        except OssError as e:
            if e.code != "NoSuchKey":
                raise
            raise OssError(404, "NoSuchKey", "The symlink target object does not exist", ec="0026-00000012",
                           extra={"Key": key}) from None  # fmt: skip
        if data.attrs.symlink is not None:
            f.close()
            raise OssError(400, "InvalidTargetType", "The symbolic's target file type is invalid")
    if body and data.attrs.frozen(time.time()):
        f.close()
        raise invalid_object_state()
    return data, f, named


async def put_symlink(be: Backend, c: Call) -> Response:
    """PutSymlink: the target is not checked (OSS checks it only when the link is read); metadata, tags, ACL and storage
    class belong to the link. The target arrives percent-encoded (oss2 and ali-oss encode it)."""
    raw_target = c.header("x-oss-symlink-target")
    if not raw_target:
        raise invalid_argument("The symlink target is missing.", "x-oss-symlink-target", "", ec="0043-00000001")
    target = check_key(unquote(raw_target))
    forbid = c.forbid_overwrite()
    tags, user_meta = c.tagging_header(), c.user_meta()
    attrs = ObjectAttrs(storage_class=c.storage_class(), acl=c.object_acl() or "default", symlink=target)
    w = await run_in_threadpool(be.storage.new_writer)  # a link has no body: an empty blob keeps the row uniform
    meta = await be.commit_and_emit(
        c,
        "PutSymlink",
        be.storage.commit_object,
        c.b,
        c.k,
        w,
        content_type=c.content_type(),
        headers={},
        user_meta=user_meta,
        tags=tags,
        object_type="Symlink",
        etag=hashlib.md5(target.encode()).hexdigest().upper(),  # ours: OSS does not say how it derives a link's ETag
        attrs=attrs,
        forbid_overwrite=forbid,
    )
    return Response(b"", 200, headers=write_headers(meta))


async def get_symlink(be: Backend, c: Call) -> Response:
    meta = await run_in_threadpool(be.storage.head, c.b, c.k)
    if meta.attrs.symlink is None:
        raise OssError(400, "NotSymlink", "The specified object is not a symlink.", ec="0043-00000101")
    headers = {
        "x-oss-symlink-target": quote(meta.attrs.symlink, safe="/"),
        "ETag": checksums.quoted(meta.etag),
        "Last-Modified": http_date(meta.mtime),
    }
    headers |= {k: to_wire(v) for k, v in meta.user_meta.items()}
    return Response(b"", 200, headers=headers)
