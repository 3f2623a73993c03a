"""Bucket-level operations: create, delete, head, bucket info, location, ACL, and the batch delete of objects."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import xmlcodec
from ..backend import Backend
from ..call import OWNER_ID, Call, xml_response
from ..errors import OssError, invalid_argument
from ..names import check_key, iso8601
from .acl import acl_document


async def create_bucket(be: Backend, c: Call) -> Response:
    await c.read_xml_body()  # CreateBucketConfiguration: storage class etc. are not modelled
    await run_in_threadpool(be.storage.create_bucket, c.b)
    return Response(b"", 200, headers={"Location": f"/{c.b}"})


async def delete_bucket(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.delete_bucket, c.b)
    return Response(b"", 204)


async def head_bucket(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.get_bucket, c.b)
    return Response(b"", 200)


async def get_location(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.get_bucket, c.b)
    root = xmlcodec.document("LocationConstraint")
    root.text = f"oss-{be.region}"
    return xml_response(root)


async def get_bucket_acl(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.get_bucket, c.b)
    return xml_response(acl_document("private"))


async def list_live_channels(be: Backend, c: Call) -> Response:
    """ListLiveChannel: always empty (the local OSS has no RTMP ingest; creating a channel is 501), so that a client
    cleaning a bucket before deleting it, as oss2's own test suite does, gets the answer OSS gives a bucket without
    channels."""
    await run_in_threadpool(be.storage.get_bucket, c.b)
    fields: list[tuple[str, str | int | None]] = [("Prefix", c.query.get("prefix", "")), ("Marker", c.query.get("marker", "")), ("MaxKeys", 100),
              ("IsTruncated", "false"), ("NextMarker", "")]  # fmt: skip
    return xml_response(xmlcodec.document("ListLiveChannelResult", fields))


async def get_bucket_info(be: Backend, c: Call) -> Response:
    bucket = await run_in_threadpool(be.storage.get_bucket, c.b)
    root = xmlcodec.document("BucketInfo")
    node = xmlcodec.add(root, "Bucket")
    host = c.header("host", "127.0.0.1")
    for tag, value in [
        ("AccessMonitor", "Disabled"),
        ("CreationDate", iso8601(bucket.created)),
        ("ExtranetEndpoint", host),
        ("IntranetEndpoint", host),
        ("Location", f"oss-{be.region}"),
        ("StorageClass", "Standard"),
        ("DataRedundancyType", "LRS"),
        ("Name", bucket.name),
        ("ResourceGroupId", ""),
        ("Versioning", ""),
        ("TransferAcceleration", "Disabled"),
        ("CrossRegionReplication", "Disabled"),
        ("Comment", ""),
    ]:
        xmlcodec.add(node, tag, value)
    owner = xmlcodec.add(node, "Owner")
    xmlcodec.add(owner, "DisplayName", OWNER_ID)
    xmlcodec.add(owner, "ID", OWNER_ID)
    xmlcodec.add(xmlcodec.add(node, "AccessControlList"), "Grant", "private")
    return xml_response(root)


async def delete_objects(be: Backend, c: Call) -> Response:
    if not c.header("content-md5"):
        raise invalid_argument("Missing required header for this request: Content-MD5", "Content-MD5", "")
    body = await c.read_xml_body()
    quiet, keys = xmlcodec.parse_delete(body)
    if len(keys) > 1000:
        raise OssError(400, "MalformedXML", "The number of objects to delete exceeds 1000.")
    for k in keys:
        check_key(k)
    await run_in_threadpool(be.storage.delete_many, c.b, keys)
    encode = c.url_encoded
    root = xmlcodec.document("DeleteResult", [("EncodingType", "url")] if encode else [])
    if not quiet:
        for k in keys:
            xmlcodec.add(xmlcodec.add(root, "Deleted"), "Key", xmlcodec.maybe_encoded(k, encode))
    return xml_response(root)
