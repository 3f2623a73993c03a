"""The routing table: (method, level, selecting sub-resource or header) → handler, first match wins.

``level`` is what the request addresses (``service``, ``bucket`` or ``object``); a route's ``sub`` is the query
parameter that selects it (``?uploads``, ``?tagging`` …), its ``header`` a request header that does
(``x-oss-copy-source``), and a route with neither is the default for its method and level.  A method with no matching
route answers 405; a sub-resource OSS knows but this server does not answers 501 (see :data:`HANDLED_PARAMS`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import Response

from .backend import Backend
from .call import Call, not_implemented
from .handlers import acl, buckets, inventory, listing, multipart, objects, post, process, restore, symlinks

Handler = Callable[[Backend, Call], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    level: str
    handler: Handler
    sub: str | None = None
    header: str | None = None
    form_post: bool = False

    def matches(self, c: Call) -> bool:
        return (
            (self.sub is None or c.has(self.sub))
            and (self.header is None or self.header in c.headers)
            and (not self.form_post or c.is_form_post)
        )


def refuse(what: str) -> Handler:
    """A handler for an operation this server knows about and does not implement: 501 NotImplemented."""

    async def handler(be: Backend, c: Call) -> Response:
        raise not_implemented(what)

    return handler


SVC, BKT, OBJ = "service", "bucket", "object"
ROUTES: tuple[Route, ...] = (
    Route("GET", SVC, listing.list_buckets),
    # bucket level
    Route("PUT", BKT, refuse("bucket ACL / tagging configuration"), sub="acl"),
    Route("PUT", BKT, refuse("bucket ACL / tagging configuration"), sub="tagging"),
    Route("PUT", BKT, inventory.put_inventory, sub="inventory"),
    Route("PUT", BKT, buckets.create_bucket),
    Route("DELETE", BKT, inventory.delete_inventory, sub="inventory"),
    Route("DELETE", BKT, buckets.delete_bucket),
    Route("HEAD", BKT, buckets.head_bucket),
    Route("GET", BKT, buckets.get_bucket_info, sub="bucketInfo"),
    Route("GET", BKT, buckets.get_location, sub="location"),
    Route("GET", BKT, buckets.get_bucket_acl, sub="acl"),
    Route("GET", BKT, multipart.list_uploads, sub="uploads"),
    Route("GET", BKT, buckets.list_live_channels, sub="live"),
    Route("GET", BKT, refuse("bucket tagging"), sub="tagging"),
    Route("GET", BKT, inventory.get_inventory, sub="inventory"),
    Route("GET", BKT, listing.list_objects),
    Route("POST", BKT, buckets.delete_objects, sub="delete"),
    Route("POST", BKT, inventory.run_inventory_now, sub="inventory"),
    Route("POST", BKT, post.post_object, form_post=True),
    # object level
    Route("GET", OBJ, multipart.list_parts, sub="uploadId"),
    Route("GET", OBJ, objects.get_tagging, sub="tagging"),
    Route("GET", OBJ, acl.get_object_acl, sub="acl"),
    Route("GET", OBJ, symlinks.get_symlink, sub="symlink"),
    Route("GET", OBJ, process.get_processed, sub="x-oss-process"),
    Route("GET", OBJ, objects.get_object),
    Route("HEAD", OBJ, objects.get_object_meta, sub="objectMeta"),
    Route("HEAD", OBJ, objects.head_object),
    Route("PUT", OBJ, objects.put_tagging, sub="tagging"),
    Route("PUT", OBJ, acl.put_object_acl, sub="acl"),
    Route("PUT", OBJ, symlinks.put_symlink, sub="symlink"),
    Route("PUT", OBJ, multipart.upload_part_copy, sub="uploadId", header="x-oss-copy-source"),
    Route("PUT", OBJ, multipart.upload_part, sub="uploadId"),
    Route("PUT", OBJ, multipart.upload_part, sub="partNumber"),
    Route("PUT", OBJ, objects.copy_object, header="x-oss-copy-source"),
    Route("PUT", OBJ, objects.put_object),
    Route("POST", OBJ, multipart.init_upload, sub="uploads"),
    Route("POST", OBJ, multipart.complete_upload, sub="uploadId"),
    Route("POST", OBJ, objects.append_object, sub="append"),
    Route("POST", OBJ, restore.restore_object, sub="restore"),
    Route("POST", OBJ, refuse("persistent processing (POST x-oss-process)"), sub="x-oss-process"),
    Route("DELETE", OBJ, multipart.abort_upload, sub="uploadId"),
    Route("DELETE", OBJ, objects.delete_tagging, sub="tagging"),
    Route("DELETE", OBJ, objects.delete_object),
)

# Query parameters that select an operation (or sign or modify one) and are therefore not "unknown sub-resources".
HANDLED_PARAMS = frozenset(
    {r.sub for r in ROUTES if r.sub is not None}
    | {"position", "continuation-token", "security-token", "inventoryId", "sequential"}
    | set(objects.RESPONSE_OVERRIDES)
)


def route(c: Call) -> Handler | None:
    """The handler for this call, or None when the method is not allowed on what it addresses."""
    for r in ROUTES:
        if r.method == c.method and r.level == c.level and r.matches(c):
            return r.handler
    return None
