"""The OSS REST API as an ASGI application: addressing, authentication, dispatch, and OSS-shaped responses.

One request flows: parse addressing (path-style or ``<bucket>.<host>``) → authenticate → dispatch on method, bucket,
key and sub-resource → storage (in a worker thread) → response.  Bodies are streamed in both directions; only XML
request bodies (bounded) are read into memory.  Every failure becomes OSS's error document, including unexpected
exceptions (500 InternalError, logged) – never a traceback page.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote, unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from . import checksums, postobject, xmlcodec
from .auth import V1_SUBRESOURCES, Authenticator, SignedRequest
from .errors import OssError, access_denied, invalid_argument, no_such_upload
from .events import Announcement, Listener, Processor, ProcessRequest
from .names import check_bucket_name, check_key, decode_key, http_date, iso8601, parse_http_date, utcnow
from .storage import MAX_PART_NUMBER, BlobWriter, ObjectMeta, Storage, appendable_etag, position_not_equal

log = logging.getLogger(__name__)

MAX_PUT_SIZE = 5 * 1024**3  # single PUT / append / part: 5 GB
READ_CHUNK = 256 * 1024
OWNER_ID = "1000000000000000"
# Standard headers OSS stores with an object and returns on GET/HEAD.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
# Query parameters that select an operation (or sign one) and are therefore allowed without being "unknown".
HANDLED_PARAMS = frozenset(
    {"uploads", "uploadId", "partNumber", "append", "position", "delete", "tagging", "objectMeta", "x-oss-process",
     "bucketInfo", "location", "continuation-token", "security-token", "acl", *RESPONSE_OVERRIDES}
)  # fmt: skip


def new_request_id() -> str:
    return secrets.token_hex(12).upper()


def wire_text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 where valid (oss2 sends UTF-8), else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def to_wire(text: str) -> str:
    """Text for a response header: Starlette encodes header values as Latin-1, so pre-encode UTF-8 to survive it."""
    return text.encode("utf-8").decode("latin-1")


def parse_query(qs: bytes) -> list[tuple[str, str]]:
    """Query parameters, percent-decoded as UTF-8; ``+`` stays a plus (OSS clients escape it)."""
    out = []
    for item in qs.decode("latin-1").split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        out.append((unquote(k), unquote(v)))
    return out


@dataclass
class Call:
    """One parsed request."""

    request: Request
    request_id: str
    method: str
    bucket: str | None
    key: str | None
    params: list[tuple[str, str]]
    headers: dict[str, bytes]
    source_ip: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def b(self) -> str:
        """The bucket, for operations routed only when there is one."""
        assert self.bucket is not None
        return self.bucket

    @property
    def k(self) -> str:
        assert self.key is not None
        return self.key

    def has(self, name: str) -> bool:
        return name in self.query

    def header(self, name: str, default: str = "") -> str:
        raw = self.headers.get(name)
        return wire_text(raw) if raw is not None else default


def parse_range(spec: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` for a single satisfiable range; None to send the whole object; InvalidRange if unsatisfiable."""
    unit, _, ranges = spec.partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None
    first_s, dash, last_s = ranges.strip().partition("-")
    if not dash:
        return None
    try:
        if first_s == "":
            n = int(last_s)
            if n <= 0 or size == 0:
                raise _invalid_range(size)
            return max(0, size - n), size - 1
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError:
        return None
    if first < 0 or last < first:
        return None
    if first >= size:
        raise _invalid_range(size)
    return first, min(last, size - 1)


def _etag_listed(header: str, etag: str) -> bool:
    """If-Match / If-None-Match test; oss2's resumable download sends the ETag without quotes, so accept both."""
    tokens = [t.strip().strip('"') for t in header.split(",")]
    return "*" in tokens or etag in tokens


def _invalid_range(size: int) -> OssError:
    return OssError(
        416, "InvalidRange", "The requested range cannot be satisfied", headers={"Content-Range": f"bytes */{size}"}
    )


class OssApp:
    """ASGI application serving the OSS API over a :class:`Storage`."""

    def __init__(
        self,
        storage: Storage,
        auth: Authenticator,
        *,
        region: str,
        virtual_host_suffixes: Sequence[str],
        processors: Mapping[str, Processor] | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.storage = storage
        self.auth = auth
        self.region = region
        self.vhost_suffixes = tuple(s.lower() for s in virtual_host_suffixes if s)
        self.processors: dict[str, Processor] = dict(processors or {})
        self.listeners: list[Listener] = list(listeners)

    # -- ASGI -------------------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        request_id = new_request_id()
        host_id = wire_text(dict(scope["headers"]).get(b"host", b"localhost"))
        method = scope["method"]
        try:
            call = self._parse(request, request_id)
            response = await self._handle(call)
        except OssError as oss_err:
            response = self._error(oss_err, request_id, host_id, method)
        except ClientDisconnect:
            return
        except Exception:
            log.exception("local OSS: unexpected error on %s %s", method, scope.get("path"))
            err = OssError(500, "InternalError", "We encountered an internal error. Please try again.")
            response = self._error(err, request_id, host_id, method)
        response.headers["x-oss-request-id"] = request_id
        response.headers["Server"] = "AliyunOSS"
        await response(scope, receive, send)

    @staticmethod
    def _error(err: OssError, request_id: str, host_id: str, method: str) -> Response:
        body = xmlcodec.error_document(err, request_id, host_id)
        headers = dict(err.headers)
        if err.ec:
            headers["x-oss-ec"] = err.ec
        if method == "HEAD":  # HEAD has no body: OSS puts the error document in x-oss-err
            headers["x-oss-err"] = base64.b64encode(body).decode()
            return Response(b"", err.status, headers=headers, media_type="application/xml")
        return Response(body, err.status, headers=headers, media_type="application/xml")

    def _parse(self, request: Request, request_id: str) -> Call:
        scope = request.scope
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw_path.split(b"?", 1)[0]
        headers: dict[str, bytes] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            headers[name] = headers[name] + b"," + v if name in headers else v
        host = wire_text(headers.get("host", b"")).lower().rsplit(":", 1)[0] if headers.get("host") else ""
        bucket: str | None = None
        key_raw = b""
        for suffix in self.vhost_suffixes:
            if host.endswith("." + suffix) and host != suffix:
                bucket = host[: -len(suffix) - 1]
                key_raw = raw_path[1:]
                break
        if bucket is None:
            first, _, key_raw = raw_path[1:].partition(b"/")
            bucket = unquote_to_bytes(first).decode("utf-8", "replace") or None
        key = decode_key(unquote_to_bytes(key_raw)) if key_raw else None
        if bucket is not None:
            check_bucket_name(bucket)
        params = parse_query(scope.get("query_string", b""))
        client = scope.get("client")
        return Call(
            request, request_id, scope["method"], bucket, key, params, headers,
            client[0] if client else "", dict(params),
        )  # fmt: skip

    # -- dispatch ---------------------------------------------------------------------------------------------------

    async def _handle(self, c: Call) -> Response:
        if c.method == "OPTIONS":
            raise OssError(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
        is_form_post = (
            c.method == "POST" and c.bucket and c.key is None
            and c.header("content-type").lower().startswith("multipart/form-data")
        )  # fmt: skip
        if not is_form_post:
            self.auth.authenticate(SignedRequest(c.method, c.bucket, c.key, c.params, c.headers))
        self._reject_unknown(c)
        if c.bucket is None:
            if c.method == "GET":
                return await self._list_buckets(c)
            raise self._method_not_allowed()
        if c.key is None:
            return await self._bucket_op(c, bool(is_form_post))
        return await self._object_op(c)

    @staticmethod
    def _method_not_allowed() -> OssError:
        return OssError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")

    @staticmethod
    def _not_implemented(what: str) -> OssError:
        return OssError(501, "NotImplemented", f"The local OSS does not implement {what}.")

    def _reject_unknown(self, c: Call) -> None:
        for name in c.query:
            if name in V1_SUBRESOURCES and name not in HANDLED_PARAMS:
                raise self._not_implemented(f"the '{name}' sub-resource")

    async def _bucket_op(self, c: Call, is_form_post: bool) -> Response:
        assert c.bucket is not None
        b = c.bucket
        if c.method == "PUT":
            if c.has("acl") or c.has("tagging"):
                raise self._not_implemented("bucket ACL / tagging configuration")
            await self._read_xml_body(c)  # CreateBucketConfiguration: storage class etc. are not modelled
            await run_in_threadpool(self.storage.create_bucket, b)
            return Response(b"", 200, headers={"Location": f"/{b}"})
        if c.method == "DELETE":
            await run_in_threadpool(self.storage.delete_bucket, b)
            return Response(b"", 204)
        if c.method == "HEAD":
            await run_in_threadpool(self.storage.get_bucket, b)
            return Response(b"", 200)
        if c.method == "GET":
            if c.has("bucketInfo"):
                return await self._bucket_info(c)
            if c.has("location"):
                await run_in_threadpool(self.storage.get_bucket, b)
                root = xmlcodec.document("LocationConstraint")
                root.text = f"oss-{self.region}"
                return self._xml(root)
            if c.has("acl"):
                await run_in_threadpool(self.storage.get_bucket, b)
                return self._xml(self._acl_document("private"))
            if c.has("uploads"):
                return await self._list_uploads(c)
            if c.has("tagging"):
                raise self._not_implemented("bucket tagging")
            return await self._list_objects(c)
        if c.method == "POST":
            if c.has("delete"):
                return await self._batch_delete(c)
            if is_form_post:
                return await self._post_object(c)
            raise self._method_not_allowed()
        raise self._method_not_allowed()

    async def _object_op(self, c: Call) -> Response:
        if c.method == "GET":
            if c.has("uploadId"):
                return await self._list_parts(c)
            if c.has("tagging"):
                meta = await run_in_threadpool(self.storage.head, c.b, c.k)
                return self._xml_bytes(xmlcodec.tagging_document(meta.tags))
            if c.has("acl"):
                await run_in_threadpool(self.storage.head, c.b, c.k)
                return self._xml(self._acl_document("default"))
            if c.has("x-oss-process"):
                return await self._process(c)
            return await self._get(c, head=False)
        if c.method == "HEAD":
            return await self._get(c, head=True, meta_only=c.has("objectMeta"))
        if c.method == "PUT":
            if c.has("tagging"):
                return await self._put_tagging(c)
            if c.has("acl"):
                raise self._not_implemented("object ACLs")
            if c.has("uploadId") or c.has("partNumber"):
                return await self._upload_part(c)
            if "x-oss-copy-source" in c.headers:
                return await self._copy(c)
            return await self._put(c)
        if c.method == "POST":
            if c.has("uploads"):
                return await self._init_upload(c)
            if c.has("uploadId"):
                return await self._complete_upload(c)
            if c.has("append"):
                return await self._append(c)
            if c.has("x-oss-process"):
                raise self._not_implemented("persistent processing (POST x-oss-process)")
            raise self._method_not_allowed()
        if c.method == "DELETE":
            if c.has("uploadId"):
                await run_in_threadpool(self.storage.abort_upload, c.b, c.k, c.query["uploadId"])
                return Response(b"", 204)
            if c.has("tagging"):
                await run_in_threadpool(self.storage.set_tags, c.b, c.k, {})
                return Response(b"", 204)
            await run_in_threadpool(self.storage.delete, c.b, c.k)
            return Response(b"", 204)
        raise self._method_not_allowed()

    # -- helpers ----------------------------------------------------------------------------------------------------

    @staticmethod
    def _xml(root: Any, status: int = 200) -> Response:
        return Response(xmlcodec.to_bytes(root), status, media_type="application/xml")

    @staticmethod
    def _xml_bytes(body: bytes, status: int = 200) -> Response:
        return Response(body, status, media_type="application/xml")

    @staticmethod
    def _acl_document(grant: str) -> Any:
        root = xmlcodec.document("AccessControlPolicy")
        owner = xmlcodec.add(root, "Owner")
        xmlcodec.add(owner, "ID", OWNER_ID)
        xmlcodec.add(owner, "DisplayName", OWNER_ID)
        acl = xmlcodec.add(root, "AccessControlList")
        xmlcodec.add(acl, "Grant", grant)
        return root

    async def _read_xml_body(self, c: Call) -> bytes:
        body = b""
        async for chunk in c.request.stream():
            body += chunk
            if len(body) > xmlcodec.MAX_XML_BODY:
                raise OssError(400, "EntityTooLarge", "Your proposed request body exceeds the maximum allowed size.")
        md5 = c.header("content-md5")
        if md5 and not checksums.content_md5_matches(md5, hashlib.md5(body).digest()):
            raise self._invalid_digest()
        return body

    @staticmethod
    def _invalid_digest() -> OssError:
        return OssError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")

    async def _receive_body(self, c: Call, init_crc: int = 0) -> BlobWriter:
        """Stream the request body to a temp blob (never into memory), checking size limit and Content-MD5."""
        declared = c.header("content-length")
        if declared.isdigit() and int(declared) > MAX_PUT_SIZE:
            raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        w = await run_in_threadpool(self.storage.new_writer, init_crc=init_crc, max_size=MAX_PUT_SIZE)
        try:
            async for chunk in c.request.stream():
                if chunk:
                    w.write(chunk)
            md5 = c.header("content-md5")
            if md5 and not checksums.content_md5_matches(md5, w.md5):
                raise self._invalid_digest()
            await run_in_threadpool(w.finish)
        except BaseException:
            w.discard()
            raise
        return w

    def _forbid_overwrite(self, c: Call) -> bool:
        value = c.header("x-oss-forbid-overwrite").strip().lower()
        if value in ("", "false"):
            return False
        if value == "true":
            return True
        raise invalid_argument("Invalid forbid overwrite header value.", "x-oss-forbid-overwrite", value)

    @staticmethod
    def _user_meta(c: Call) -> dict[str, str]:
        return {k: wire_text(v) for k, v in c.headers.items() if k.startswith("x-oss-meta-")}

    @staticmethod
    def _stored_headers(c: Call) -> dict[str, str]:
        return {k: wire_text(v) for k, v in c.headers.items() if k in STORED_HEADERS}

    @staticmethod
    def _tagging_header(c: Call) -> dict[str, str]:
        raw = c.header("x-oss-tagging")
        if not raw:
            return {}
        tags = {}
        for item in raw.split("&"):
            k, _, v = item.partition("=")
            if not k:
                raise invalid_argument("Invalid tag.", "x-oss-tagging", raw)
            tags[unquote(k)] = unquote(v)
        return tags

    @staticmethod
    def _content_type(c: Call) -> str:
        return c.header("content-type") or "application/octet-stream"

    @staticmethod
    def _announcement(c: Call, event: str, *, delta: int | None = None, position: int | None = None) -> Announcement:
        """The event the object this request creates will carry; given to the storage commit, which writes the
        notice's pending deliveries in the object's transaction (``Storage.router``)."""
        return Announcement(event, c.request_id, c.source_ip, utcnow(), delta_size=delta, position=position)

    def _emit(self, meta: ObjectMeta, announce: Announcement) -> None:
        """Tell listeners about a created object; runs after the commit, and a failing listener never fails the request."""
        notice = announce.notice(meta.bucket, meta.key, meta.size, meta.etag, meta.content_type, meta.user_meta)
        for listener in list(self.listeners):
            try:
                listener(notice)
            except Exception:
                log.exception("local OSS: object-created listener %r failed for %s/%s", listener, meta.bucket, meta.key)

    async def _commit_and_emit(
        self, c: Call, event: str, fn: Callable[..., ObjectMeta], *args: Any,
        event_delta: int | None = None, event_position: int | None = None, **kwargs: Any,
    ) -> ObjectMeta:  # fmt: skip
        """Commit (with the event's pending deliveries) in a worker thread, then notify listeners from that thread."""
        announce = self._announcement(c, event, delta=event_delta, position=event_position)

        def work() -> ObjectMeta:
            meta = fn(*args, announce=announce, **kwargs)
            self._emit(meta, announce)
            return meta

        return await run_in_threadpool(work)

    @staticmethod
    def _write_headers(meta: ObjectMeta) -> dict[str, str]:
        return {"ETag": checksums.quoted(meta.etag), "x-oss-hash-crc64ecma": str(meta.crc)}

    # -- objects ----------------------------------------------------------------------------------------------------

    async def _put(self, c: Call) -> Response:
        assert c.bucket and c.key
        forbid = self._forbid_overwrite(c)
        tags = self._tagging_header(c)
        w = await self._receive_body(c)
        meta = await self._commit_and_emit(
            c, "PutObject", self.storage.commit_object, c.b, c.k, w, content_type=self._content_type(c),
            headers=self._stored_headers(c), user_meta=self._user_meta(c), tags=tags, forbid_overwrite=forbid,
        )  # fmt: skip
        headers = self._write_headers(meta)
        headers["Content-MD5"] = base64.b64encode(w.md5).decode()
        return Response(b"", 200, headers=headers)

    async def _append(self, c: Call) -> Response:
        assert c.bucket and c.key
        pos_s = c.query.get("position", "")
        if not pos_s.isdigit():
            raise invalid_argument("Position is not a valid number.", "position", pos_s)
        position = int(pos_s)
        try:
            current: ObjectMeta | None = await run_in_threadpool(self.storage.head, c.b, c.k)
        except OssError as e:
            if e.code != "NoSuchKey":
                raise
            current = None
        if current is None:
            if position != 0:
                raise position_not_equal(0, 0)
            w = await self._receive_body(c)
            meta = await self._commit_and_emit(
                c, "AppendObject", self.storage.commit_object, c.b, c.k, w, content_type=self._content_type(c),
                headers=self._stored_headers(c), user_meta=self._user_meta(c), tags=self._tagging_header(c),
                object_type="Appendable", etag=appendable_etag(w.crc, w.size), must_not_exist=position_not_equal(0, 0),
                event_delta=w.size, event_position=0,
            )  # fmt: skip
        else:
            if current.object_type != "Appendable":
                raise OssError(409, "ObjectNotAppendable", "The object is not appendable")
            if current.size != position:
                raise position_not_equal(current.size, current.crc)
            w = await self._receive_body(c, init_crc=current.crc)
            meta = await self._commit_and_emit(
                c,
                "AppendObject",
                self.storage.append,
                c.b,
                c.k,
                position,
                w,
                expected=current,
                event_delta=w.size,
                event_position=position,
            )
        headers = self._write_headers(meta)
        headers["x-oss-next-append-position"] = str(meta.size)
        return Response(b"", 200, headers=headers)

    async def _copy(self, c: Call) -> Response:
        assert c.bucket and c.key
        source = c.header("x-oss-copy-source")
        src_bucket, _, src_key_q = source.lstrip("/").partition("/")
        src_key = check_key(unquote(src_key_q.split("?", 1)[0]))
        forbid = self._forbid_overwrite(c)
        directive = c.header("x-oss-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise invalid_argument("Invalid metadata directive.", "x-oss-metadata-directive", directive)

        def work() -> ObjectMeta:
            meta, f = self.storage.open(src_bucket, src_key)
            with f:
                self._check_conditions(c, meta, prefix="x-oss-copy-source-")
                w = self.storage.new_writer()
                try:
                    remaining = meta.size
                    while remaining > 0 and (chunk := f.read(min(READ_CHUNK * 4, remaining))):
                        w.write(chunk)
                        remaining -= len(chunk)
                except BaseException:
                    w.discard()
                    raise
            if directive == "REPLACE":
                ctype, headers, user_meta = self._content_type(c), self._stored_headers(c), self._user_meta(c)
            else:
                ctype, headers, user_meta = meta.content_type, meta.headers, meta.user_meta
            tags = self._tagging_header(c) if c.header("x-oss-tagging-directive").upper() == "REPLACE" else meta.tags
            etag = meta.etag if meta.object_type != "Appendable" else None
            announce = self._announcement(c, "CopyObject")
            new = self.storage.commit_object(
                c.b, c.k, w, content_type=ctype, headers=headers, user_meta=user_meta, tags=tags,
                etag=etag, forbid_overwrite=forbid, announce=announce,
            )  # fmt: skip
            self._emit(new, announce)
            return new

        meta = await run_in_threadpool(work)
        root = xmlcodec.document(
            "CopyObjectResult", [("LastModified", iso8601(meta.mtime)), ("ETag", checksums.quoted(meta.etag))]
        )
        response = self._xml(root)
        response.headers.update(self._write_headers(meta))
        return response

    def _check_conditions(self, c: Call, meta: ObjectMeta, prefix: str = "") -> bool:
        """Evaluate If-* (or x-oss-copy-source-if-*) headers; True means "not modified" (304 for GET)."""
        mtime = meta.mtime.replace(microsecond=0)
        if_match = c.header(prefix + "if-match")
        if if_match and not _etag_listed(if_match, meta.etag):
            raise OssError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                           extra={"Condition": "If-Match"})  # fmt: skip
        if_unmodified = (
            parse_http_date(c.header(prefix + "if-unmodified-since"))
            if c.header(prefix + "if-unmodified-since")
            else None
        )
        if if_unmodified is not None and mtime > if_unmodified:
            raise OssError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                           extra={"Condition": "If-Unmodified-Since"})  # fmt: skip
        if_none_match = c.header(prefix + "if-none-match")
        if if_none_match:
            if _etag_listed(if_none_match, meta.etag):
                if prefix:
                    raise OssError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                                   extra={"Condition": "If-None-Match"})  # fmt: skip
                return True
            return False
        if_modified = (
            parse_http_date(c.header(prefix + "if-modified-since")) if c.header(prefix + "if-modified-since") else None
        )
        if if_modified is not None and mtime <= if_modified:
            if prefix:
                raise OssError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                               extra={"Condition": "If-Modified-Since"})  # fmt: skip
            return True
        return False

    def _object_headers(self, meta: ObjectMeta) -> dict[str, str]:
        headers = {
            "Content-Type": to_wire(meta.content_type),
            "ETag": checksums.quoted(meta.etag),
            "Last-Modified": http_date(meta.mtime),
            "x-oss-object-type": meta.object_type,
            "x-oss-storage-class": "Standard",
            "x-oss-hash-crc64ecma": str(meta.crc),
            "Accept-Ranges": "bytes",
        }
        for k, v in {**meta.headers, **meta.user_meta}.items():
            headers[k] = to_wire(v)
        if meta.tags:
            headers["x-oss-tagging-count"] = str(len(meta.tags))
        if meta.object_type == "Appendable":
            headers["x-oss-next-append-position"] = str(meta.size)
        return headers

    async def _get(self, c: Call, *, head: bool, meta_only: bool = False) -> Response:
        meta, f = await run_in_threadpool(self.storage.open, c.b, c.k)
        try:
            if meta_only:
                f.close()
                return Response(b"", 200, headers={
                    "ETag": checksums.quoted(meta.etag), "Content-Length": str(meta.size),
                    "Last-Modified": http_date(meta.mtime), "x-oss-hash-crc64ecma": str(meta.crc),
                })  # fmt: skip
            headers = self._object_headers(meta)
            if self._check_conditions(c, meta):
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
            headers["Content-Length"] = str(length)
            if head:
                f.close()
                return Response(b"", status, headers=headers)
        except BaseException:
            f.close()
            raise
        return StreamingResponse(self._stream_file(f, first, length), status, headers=headers)

    @staticmethod
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

    async def _process(self, c: Call) -> Response:
        assert c.bucket and c.key
        process = c.query["x-oss-process"]
        meta = await run_in_threadpool(self.storage.head, c.b, c.k)
        if self._check_conditions(c, meta):  # a processed GET is still a GET: If-Match and friends apply first
            return Response(b"", 304)
        processor = self._processor_for(process)
        if processor is None:
            name = process.split(",", 1)[0]
            raise invalid_argument(
                f"The process '{name}' is not supported: no processor is registered for it on this local OSS "
                "(on Alibaba Cloud this means the service behind it, e.g. an IMM project, is not bound to the bucket).",
                "x-oss-process",
                process,
            )
        req = ProcessRequest(c.b, c.k, process, self.storage.blob_path(meta), meta.size, meta.etag, meta.content_type)
        status, ctype, body = await run_in_threadpool(processor, req)  # a ProcessError becomes OSS error XML
        # no x-oss-hash-crc64ecma here: it describes the source object, not this body, and oss2 would reject it
        return Response(body, status, media_type=ctype)

    def _processor_for(self, process: str) -> Processor | None:
        best: tuple[int, Processor] | None = None
        for prefix, fn in self.processors.items():
            matches = process == prefix or (process.startswith(prefix) and process[len(prefix)] in ",/|")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), fn)
        return best[1] if best else None

    async def _put_tagging(self, c: Call) -> Response:
        body = await self._read_xml_body(c)
        tags = xmlcodec.parse_tagging(body)
        if len(tags) > 10:
            raise OssError(400, "BadRequest", "Object tags cannot be greater than 10")
        await run_in_threadpool(self.storage.set_tags, c.b, c.k, tags)
        return Response(b"", 200)

    # -- multipart --------------------------------------------------------------------------------------------------

    async def _init_upload(self, c: Call) -> Response:
        assert c.bucket and c.key
        self._forbid_overwrite(c)
        upload_id = await run_in_threadpool(
            lambda: self.storage.init_upload(
                c.b, c.k, content_type=self._content_type(c), headers=self._stored_headers(c),
                user_meta=self._user_meta(c), tags=self._tagging_header(c),
            )
        )  # fmt: skip
        encode = c.query.get("encoding-type") == "url"
        root = xmlcodec.document(
            "InitiateMultipartUploadResult",
            xmlcodec.list_fields([
                ("EncodingType", "url" if encode else None), ("Bucket", c.bucket),
                ("Key", xmlcodec.maybe_encoded(c.key, encode)), ("UploadId", upload_id),
            ]),
        )  # fmt: skip
        return self._xml(root)

    async def _upload_part(self, c: Call) -> Response:
        assert c.bucket and c.key
        number_s, upload_id = c.query.get("partNumber", ""), c.query.get("uploadId", "")
        if not number_s.isdigit() or not 1 <= int(number_s) <= MAX_PART_NUMBER:
            raise invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive.", "partNumber", number_s
            )
        await run_in_threadpool(self.storage.get_upload, c.b, c.k, upload_id)
        w = await self._receive_body(c)
        part = await run_in_threadpool(self.storage.put_part, c.b, c.k, upload_id, int(number_s), w)
        return Response(b"", 200, headers={
            "ETag": checksums.quoted(part.etag), "x-oss-hash-crc64ecma": str(part.crc),
            "Content-MD5": base64.b64encode(part.md5).decode(),
        })  # fmt: skip

    async def _complete_upload(self, c: Call) -> Response:
        assert c.bucket and c.key
        upload_id = c.query["uploadId"]
        forbid = self._forbid_overwrite(c)
        body = await self._read_xml_body(c)
        if c.header("x-oss-complete-all").lower() == "yes":
            if body.strip():
                raise invalid_argument("Should not specify the part list when x-oss-complete-all is yes.",
                                       "x-oss-complete-all", "yes")  # fmt: skip
            chosen = None
        else:
            chosen = xmlcodec.parse_complete_parts(body)

        def work() -> ObjectMeta:
            announce = self._announcement(c, "CompleteMultipartUpload")
            try:
                meta = self.storage.complete_upload(
                    c.b, c.k, upload_id, chosen, forbid_overwrite=forbid, announce=announce
                )
            except FileNotFoundError:  # parts vanished under us: a concurrent abort
                raise no_such_upload(upload_id) from None
            self._emit(meta, announce)
            return meta

        meta = await run_in_threadpool(work)
        encode = c.query.get("encoding-type") == "url"
        root = xmlcodec.document(
            "CompleteMultipartUploadResult",
            xmlcodec.list_fields([
                ("EncodingType", "url" if encode else None), ("Location", f"/{c.bucket}/{c.key}"), ("Bucket", c.bucket),
                ("Key", xmlcodec.maybe_encoded(c.key, encode)), ("ETag", checksums.quoted(meta.etag)),
            ]),
        )  # fmt: skip
        response = self._xml(root)
        response.headers.update(self._write_headers(meta))
        return response

    async def _list_parts(self, c: Call) -> Response:
        assert c.bucket and c.key
        upload_id = c.query["uploadId"]
        marker = (
            int(c.query.get("part-number-marker") or 0) if (c.query.get("part-number-marker") or "0").isdigit() else 0
        )
        max_parts = self._int_param(c, "max-parts", 1000, 1, 1000)
        _, parts = await run_in_threadpool(self.storage.list_parts, c.b, c.k, upload_id)
        after = [p for p in parts if p.part_number > marker]
        page, truncated = after[:max_parts], len(after) > max_parts
        encode = c.query.get("encoding-type") == "url"
        root = xmlcodec.document(
            "ListPartsResult",
            xmlcodec.list_fields([
                ("EncodingType", "url" if encode else None), ("Bucket", c.bucket),
                ("Key", xmlcodec.maybe_encoded(c.key, encode)), ("UploadId", upload_id),
                ("PartNumberMarker", marker), ("NextPartNumberMarker", page[-1].part_number if page else marker),
                ("MaxParts", max_parts), ("IsTruncated", "true" if truncated else "false"),
            ]),
        )  # fmt: skip
        for p in page:
            node = xmlcodec.add(root, "Part")
            xmlcodec.add(node, "PartNumber", p.part_number)
            xmlcodec.add(node, "LastModified", iso8601(p.mtime))
            xmlcodec.add(node, "ETag", checksums.quoted(p.etag))
            xmlcodec.add(node, "HashCrc64ecma", str(p.crc))
            xmlcodec.add(node, "Size", p.size)
        return self._xml(root)

    async def _list_uploads(self, c: Call) -> Response:
        assert c.bucket
        prefix = c.query.get("prefix", "")
        key_marker, id_marker = c.query.get("key-marker", ""), c.query.get("upload-id-marker", "")
        max_uploads = self._int_param(c, "max-uploads", 1000, 1, 1000)
        uploads = await run_in_threadpool(
            lambda: self.storage.list_uploads(c.b, prefix=prefix, key_marker=key_marker, upload_id_marker=id_marker)
        )
        page, truncated = uploads[:max_uploads], len(uploads) > max_uploads
        encode = c.query.get("encoding-type") == "url"

        def enc(s: str) -> str:
            return xmlcodec.maybe_encoded(s, encode)

        root = xmlcodec.document(
            "ListMultipartUploadsResult",
            xmlcodec.list_fields([
                ("EncodingType", "url" if encode else None), ("Bucket", c.bucket), ("KeyMarker", enc(key_marker)),
                ("UploadIdMarker", id_marker), ("NextKeyMarker", enc(page[-1].key) if page else ""),
                ("NextUploadIdMarker", page[-1].upload_id if page else ""), ("Delimiter", ""),
                ("Prefix", enc(prefix)), ("MaxUploads", max_uploads), ("IsTruncated", "true" if truncated else "false"),
            ]),
        )  # fmt: skip
        for u in page:
            node = xmlcodec.add(root, "Upload")
            xmlcodec.add(node, "Key", enc(u.key))
            xmlcodec.add(node, "UploadId", u.upload_id)
            xmlcodec.add(node, "StorageClass", "Standard")
            xmlcodec.add(node, "Initiated", iso8601(u.initiated))
        return self._xml(root)

    # -- bucket-level -----------------------------------------------------------------------------------------------

    @staticmethod
    def _int_param(c: Call, name: str, default: int, low: int, high: int) -> int:
        raw = c.query.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise invalid_argument(f"Argument {name} must be an integer between {low} to {high}.", name, raw)
        return int(raw)

    async def _list_objects(self, c: Call) -> Response:
        assert c.bucket
        v2 = c.query.get("list-type") == "2"
        prefix, delimiter = c.query.get("prefix", ""), c.query.get("delimiter", "")
        max_keys = self._int_param(c, "max-keys", 100, 1, 1000)
        encode_type = c.query.get("encoding-type", "")
        if encode_type not in ("", "url"):
            raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encode_type)
        encode = encode_type == "url"

        def enc(s: str) -> str:
            return xmlcodec.maybe_encoded(s, encode)

        if v2:
            token = c.query.get("continuation-token", "")
            start_after = c.query.get("start-after", "")
            after = start_after
            if token:
                try:
                    after = base64.urlsafe_b64decode(token.encode() + b"==").decode()
                except ValueError:
                    raise invalid_argument(
                        "The continuation token provided is incorrect", "continuation-token", token
                    ) from None
        else:
            after = c.query.get("marker", "")
        listing = await run_in_threadpool(
            lambda: self.storage.list_objects(c.b, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
        )
        fetch_owner = c.query.get("fetch-owner", "false").lower() == "true"
        fields: list[tuple[str, str | int | None]] = [("Name", c.bucket), ("Prefix", enc(prefix))]
        if v2:
            fields += [
                ("StartAfter", enc(c.query["start-after"]) if "start-after" in c.query else None),
                ("ContinuationToken", c.query.get("continuation-token") or None),
                ("MaxKeys", max_keys), ("Delimiter", enc(delimiter)), ("EncodingType", "url" if encode else None),
                ("IsTruncated", "true" if listing.truncated else "false"),
                ("NextContinuationToken",
                 base64.urlsafe_b64encode(listing.next_marker.encode()).decode().rstrip("=") if listing.truncated else None),
                ("KeyCount", len(listing.contents) + len(listing.prefixes)),
            ]  # fmt: skip
        else:
            fields += [
                ("Marker", enc(after)), ("MaxKeys", max_keys), ("Delimiter", enc(delimiter)),
                ("EncodingType", "url" if encode else None), ("IsTruncated", "true" if listing.truncated else "false"),
                ("NextMarker", enc(listing.next_marker) if listing.truncated else None),
            ]  # fmt: skip
        root = xmlcodec.document("ListBucketResult", xmlcodec.list_fields(fields))
        for e in listing.contents:
            node = xmlcodec.add(root, "Contents")
            xmlcodec.add(node, "Key", enc(e.key))
            xmlcodec.add(node, "LastModified", iso8601(e.mtime))
            xmlcodec.add(node, "ETag", checksums.quoted(e.etag))
            xmlcodec.add(node, "Type", e.object_type)
            xmlcodec.add(node, "Size", e.size)
            xmlcodec.add(node, "StorageClass", "Standard")
            if fetch_owner or not v2:
                owner = xmlcodec.add(node, "Owner")
                xmlcodec.add(owner, "ID", OWNER_ID)
                xmlcodec.add(owner, "DisplayName", OWNER_ID)
        for p in listing.prefixes:
            xmlcodec.add(xmlcodec.add(root, "CommonPrefixes"), "Prefix", enc(p))
        return self._xml(root)

    async def _batch_delete(self, c: Call) -> Response:
        assert c.bucket
        if not c.header("content-md5"):
            raise invalid_argument("Missing required header for this request: Content-MD5", "Content-MD5", "")
        body = await self._read_xml_body(c)
        quiet, keys = xmlcodec.parse_delete(body)
        if len(keys) > 1000:
            raise OssError(400, "MalformedXML", "The number of objects to delete exceeds 1000.")
        for k in keys:
            check_key(k)
        await run_in_threadpool(self.storage.delete_many, c.bucket, keys)
        encode = c.query.get("encoding-type") == "url"
        root = xmlcodec.document("DeleteResult", [("EncodingType", "url")] if encode else [])
        if not quiet:
            for k in keys:
                xmlcodec.add(xmlcodec.add(root, "Deleted"), "Key", xmlcodec.maybe_encoded(k, encode))
        return self._xml(root)

    async def _bucket_info(self, c: Call) -> Response:
        assert c.bucket
        bucket = await run_in_threadpool(self.storage.get_bucket, c.bucket)
        root = xmlcodec.document("BucketInfo")
        node = xmlcodec.add(root, "Bucket")
        host = c.header("host", "127.0.0.1")
        for tag, value in [
            ("AccessMonitor", "Disabled"), ("CreationDate", iso8601(bucket.created)),
            ("ExtranetEndpoint", host), ("IntranetEndpoint", host), ("Location", f"oss-{self.region}"),
            ("StorageClass", "Standard"), ("DataRedundancyType", "LRS"), ("Name", bucket.name),
            ("ResourceGroupId", ""), ("Versioning", ""), ("TransferAcceleration", "Disabled"),
            ("CrossRegionReplication", "Disabled"), ("Comment", ""),
        ]:  # fmt: skip
            xmlcodec.add(node, tag, value)
        owner = xmlcodec.add(node, "Owner")
        xmlcodec.add(owner, "DisplayName", OWNER_ID)
        xmlcodec.add(owner, "ID", OWNER_ID)
        xmlcodec.add(xmlcodec.add(node, "AccessControlList"), "Grant", "private")
        return self._xml(root)

    async def _list_buckets(self, c: Call) -> Response:
        prefix, marker = c.query.get("prefix", ""), c.query.get("marker", "")
        max_keys = self._int_param(c, "max-keys", 100, 1, 1000)
        buckets = [
            b
            for b in await run_in_threadpool(self.storage.list_buckets)
            if b.name.startswith(prefix) and b.name > marker
        ]
        page, truncated = buckets[:max_keys], len(buckets) > max_keys
        root = xmlcodec.document("ListAllMyBucketsResult")
        fields: list[tuple[str, str | int]] = [
            ("Prefix", prefix),
            ("Marker", marker),
            ("MaxKeys", max_keys),
            ("IsTruncated", "true" if truncated else "false"),
        ]
        if truncated:
            fields.append(("NextMarker", page[-1].name))
        for k, v in fields:
            xmlcodec.add(root, k, v)
        owner = xmlcodec.add(root, "Owner")
        xmlcodec.add(owner, "ID", OWNER_ID)
        xmlcodec.add(owner, "DisplayName", OWNER_ID)
        node = xmlcodec.add(root, "Buckets")
        host = c.header("host", "127.0.0.1")
        for b in page:
            bn = xmlcodec.add(node, "Bucket")
            for tag, value in [
                ("CreationDate", iso8601(b.created)), ("ExtranetEndpoint", host), ("IntranetEndpoint", host),
                ("Location", f"oss-{self.region}"), ("Name", b.name), ("Region", self.region), ("StorageClass", "Standard"),
            ]:  # fmt: skip
                xmlcodec.add(bn, tag, value)
        return self._xml(root)

    async def _post_object(self, c: Call) -> Response:
        assert c.bucket
        boundary = postobject.boundary_of(c.header("content-type"))
        await run_in_threadpool(self.storage.get_bucket, c.bucket)
        w = await run_in_threadpool(self.storage.new_writer, max_size=MAX_PUT_SIZE)
        try:
            fields, _filename, file_ctype = await postobject.read_form(c.request.stream(), boundary, w.write)
            await run_in_threadpool(w.finish)
            form = postobject.lowercase_fields(fields)
            key_template = form.get("key", "")
            key = check_key(key_template.replace("${filename}", _filename or ""))
            if "policy" in form or "signature" in form or "x-oss-signature" in form:
                auth_fields = {
                    **form,
                    "OSSAccessKeyId": form.get("ossaccesskeyid", ""),
                    "Signature": form.get("signature", ""),
                }
                if "policy" not in form:
                    raise invalid_argument("Missing policy.", "policy", "")
                self.auth.verify_post_policy(auth_fields)
                postobject.check_policy(form["policy"], {**form, "key": key}, c.bucket, w.size)
            else:
                raise access_denied("You have no right to access this object because of bucket acl.")
            if form.get("content-md5") and not checksums.content_md5_matches(form["content-md5"], w.md5):
                raise self._invalid_digest()
        except BaseException:
            w.discard()
            raise
        user_meta = {k: v for k, v in form.items() if k.startswith("x-oss-meta-")}
        headers = {k: v for k, v in form.items() if k in STORED_HEADERS}
        ctype = form.get("content-type") or file_ctype or "application/octet-stream"
        forbid = form.get("x-oss-forbid-overwrite", "false").lower() == "true"
        meta = await self._commit_and_emit(
            c, "PostObject", self.storage.commit_object, c.bucket, key, w, content_type=ctype, headers=headers,
            user_meta=user_meta, tags={}, forbid_overwrite=forbid,
        )  # fmt: skip
        status = form.get("success_action_status", "204")
        out_headers = self._write_headers(meta)
        if status == "201":
            root = xmlcodec.document("PostResponse", [
                ("Bucket", c.bucket), ("Location", f"/{c.bucket}/{key}"), ("Key", key), ("ETag", checksums.quoted(meta.etag)),
            ])  # fmt: skip
            response = self._xml(root, 201)
            response.headers.update(out_headers)
            return response
        return Response(b"", 200 if status == "200" else 204, headers=out_headers)
