"""PostObject: a browser form upload, authorised by its signed policy instead of an Authorization header."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import checksums, postobject, xmlcodec
from ..backend import Backend, write_headers
from ..call import MAX_PUT_SIZE, STORED_HEADERS, Call, invalid_digest, xml_response
from ..errors import access_denied, invalid_argument
from ..limits import check_user_meta
from ..names import check_key


async def post_object(be: Backend, c: Call) -> Response:
    boundary = postobject.boundary_of(c.header("content-type"))
    await run_in_threadpool(be.storage.get_bucket, c.b)
    w = await run_in_threadpool(be.storage.new_writer, max_size=MAX_PUT_SIZE)
    try:
        fields, filename, file_ctype = await postobject.read_form(c.request.stream(), boundary, w.write)
        await run_in_threadpool(w.finish)
        form = postobject.lowercase_fields(fields)
        key = check_key(form.get("key", "").replace("${filename}", filename or ""))
        if "policy" not in form and "signature" not in form and "x-oss-signature" not in form:
            raise access_denied("You have no right to access this object because of bucket acl.")
        auth_fields = {**form, "OSSAccessKeyId": form.get("ossaccesskeyid", ""), "Signature": form.get("signature", "")}
        if "policy" not in form:
            raise invalid_argument("Missing policy.", "policy", "")
        be.auth.verify_post_policy(auth_fields)
        postobject.check_policy(form["policy"], {**form, "key": key}, c.b, w.size)
        if form.get("content-md5") and not checksums.content_md5_matches(form["content-md5"], w.md5):
            raise invalid_digest()
        user_meta = {k: v for k, v in form.items() if k.startswith("x-oss-meta-")}
        check_user_meta(user_meta)
    except BaseException:
        w.discard()
        raise
    headers = {k: v for k, v in form.items() if k in STORED_HEADERS}
    ctype = form.get("content-type") or file_ctype or "application/octet-stream"
    forbid = form.get("x-oss-forbid-overwrite", "false").lower() == "true"
    meta = await be.commit_and_emit(
        c,
        "PostObject",
        be.storage.commit_object,
        c.b,
        key,
        w,
        content_type=ctype,
        headers=headers,
        user_meta=user_meta,
        tags={},
        forbid_overwrite=forbid,
    )
    status = form.get("success_action_status", "204")
    out_headers = write_headers(meta)
    if status == "201":
        root = xmlcodec.document(
            "PostResponse",
            [("Bucket", c.b), ("Location", f"/{c.b}/{key}"), ("Key", key), ("ETag", checksums.quoted(meta.etag))],
        )
        response = xml_response(root, 201)
        response.headers.update(out_headers)
        return response
    return Response(b"", 200 if status == "200" else 204, headers=out_headers)
