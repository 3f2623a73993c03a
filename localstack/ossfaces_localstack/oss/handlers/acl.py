"""Object ACLs: PutObjectACL / GetObjectACL, and the ACL documents buckets and objects answer with.

An object's ACL is ``default`` (it follows the bucket's, always ``private`` here) unless a write or PutObjectACL set
``private``, ``public-read`` or ``public-read-write``. A public object can be read without a signature
(``server.py``); writing without one is refused whatever the ACL (the local buckets are private).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import xmlcodec
from ..backend import Backend
from ..call import OWNER_ID, Call, xml_response
from ..errors import invalid_argument

PUBLIC_READ = frozenset({"public-read", "public-read-write"})


def acl_document(grant: str) -> Any:
    root = xmlcodec.document("AccessControlPolicy")
    owner = xmlcodec.add(root, "Owner")
    xmlcodec.add(owner, "ID", OWNER_ID)
    xmlcodec.add(owner, "DisplayName", OWNER_ID)
    acl = xmlcodec.add(root, "AccessControlList")
    xmlcodec.add(acl, "Grant", grant)
    return root


async def get_object_acl(be: Backend, c: Call) -> Response:
    meta = await run_in_threadpool(be.storage.head, c.b, c.k)
    return xml_response(acl_document(meta.attrs.acl))


async def put_object_acl(be: Backend, c: Call) -> Response:
    acl = c.object_acl()
    if acl is None:
        raise invalid_argument("The x-oss-object-acl header is missing.", "x-oss-object-acl", "")
    await run_in_threadpool(be.storage.update_attrs, c.b, c.k, lambda meta: replace(meta.attrs, acl=acl))
    return Response(b"", 200)
