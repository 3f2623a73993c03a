"""Listings: ListObjects (v1 and v2) of a bucket, ListBuckets of the service."""

from __future__ import annotations

import base64
import time

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import checksums, xmlcodec
from ..backend import Backend
from ..call import OWNER_ID, Call, xml_response
from ..errors import invalid_argument
from ..names import iso8601
from .restore import restore_header


def _next_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode().rstrip("=")


async def list_objects(be: Backend, c: Call) -> Response:
    v2 = c.query.get("list-type") == "2"
    prefix, delimiter = c.query.get("prefix", ""), c.query.get("delimiter", "")
    max_keys = c.int_param("max-keys", 100, 1, 1000)
    encode_type = c.query.get("encoding-type", "")
    if encode_type not in ("", "url"):
        raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encode_type)
    encode = encode_type == "url"

    def enc(s: str) -> str:
        return xmlcodec.maybe_encoded(s, encode)

    if v2:
        token = c.query.get("continuation-token", "")
        after = c.query.get("start-after", "")
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
        lambda: be.storage.list_objects(c.b, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
    )
    fetch_owner = c.query.get("fetch-owner", "false").lower() == "true"
    truncated = "true" if listing.truncated else "false"
    fields: list[tuple[str, str | int | None]] = [("Name", c.b), ("Prefix", enc(prefix))]
    if v2:
        fields += [
            ("StartAfter", enc(c.query["start-after"]) if "start-after" in c.query else None),
            ("ContinuationToken", c.query.get("continuation-token") or None),
            ("MaxKeys", max_keys),
            ("Delimiter", enc(delimiter)),
            ("EncodingType", "url" if encode else None),
            ("IsTruncated", truncated),
            ("NextContinuationToken", _next_token(listing.next_marker) if listing.truncated else None),
            ("KeyCount", len(listing.contents) + len(listing.prefixes)),
        ]
    else:
        fields += [
            ("Marker", enc(after)),
            ("MaxKeys", max_keys),
            ("Delimiter", enc(delimiter)),
            ("EncodingType", "url" if encode else None),
            ("IsTruncated", truncated),
            ("NextMarker", enc(listing.next_marker) if listing.truncated else None),
        ]
    root = xmlcodec.document("ListBucketResult", xmlcodec.list_fields(fields))
    now = time.time()
    for e in listing.contents:
        node = xmlcodec.add(root, "Contents")
        xmlcodec.add(node, "Key", enc(e.key))
        xmlcodec.add(node, "LastModified", iso8601(e.mtime))
        xmlcodec.add(node, "ETag", checksums.quoted(e.etag))
        xmlcodec.add(node, "Type", e.object_type)
        xmlcodec.add(node, "Size", e.size)
        xmlcodec.add(node, "StorageClass", e.attrs.storage_class)
        if (restore := restore_header(e.attrs, now)) is not None:
            xmlcodec.add(node, "RestoreInfo", restore)
        if fetch_owner or not v2:
            owner = xmlcodec.add(node, "Owner")
            xmlcodec.add(owner, "ID", OWNER_ID)
            xmlcodec.add(owner, "DisplayName", OWNER_ID)
    for p in listing.prefixes:
        xmlcodec.add(xmlcodec.add(root, "CommonPrefixes"), "Prefix", enc(p))
    return xml_response(root)


async def list_buckets(be: Backend, c: Call) -> Response:
    prefix, marker = c.query.get("prefix", ""), c.query.get("marker", "")
    max_keys = c.int_param("max-keys", 100, 1, 1000)
    all_buckets = await run_in_threadpool(be.storage.list_buckets)
    buckets = [b for b in all_buckets if b.name.startswith(prefix) and b.name > marker]
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
            ("CreationDate", iso8601(b.created)),
            ("ExtranetEndpoint", host),
            ("IntranetEndpoint", host),
            ("Location", f"oss-{be.region}"),
            ("Name", b.name),
            ("Region", be.region),
            ("StorageClass", "Standard"),
        ]:
            xmlcodec.add(bn, tag, value)
    return xml_response(root)
