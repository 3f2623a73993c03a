"""Bucket inventory: PutBucketInventory, GetBucketInventory, ListBucketInventory, DeleteBucketInventory; and the local
stack's one extension, ``POST /?inventory&inventoryId=ID``: produce that rule's report now (:mod:`..inventory_report`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import xmlcodec
from ..backend import Backend
from ..call import Call, xml_response
from ..errors import invalid_argument
from ..inventory_config import parse_config
from ..inventory_report import run_inventory


def _inventory_id(c: Call) -> str:
    value = c.query.get("inventoryId", "")
    if not value:
        raise invalid_argument("The inventoryId parameter is required.", "inventoryId", value)
    return value


async def put_inventory(be: Backend, c: Call) -> Response:
    inventory_id = _inventory_id(c)
    config = parse_config(await c.read_xml_body(), inventory_id)
    await run_in_threadpool(be.storage.put_inventory, c.b, config)
    return Response(b"", 200)


async def get_inventory(be: Backend, c: Call) -> Response:
    """GetBucketInventory with ``inventoryId``; ListBucketInventory without (100 a page, ``continuation-token``)."""
    if "inventoryId" in c.query:
        config = await run_in_threadpool(be.storage.get_inventory, c.b, _inventory_id(c))
        return xml_response(config.to_element())
    token = c.query.get("continuation-token", "")
    configs, truncated = await run_in_threadpool(be.storage.list_inventories, c.b, token)
    root = xmlcodec.document("ListInventoryConfigurationsResult")
    for config in configs:
        root.append(config.to_element())
    xmlcodec.add(root, "IsTruncated", "true" if truncated else "false")
    if truncated:
        xmlcodec.add(root, "NextContinuationToken", configs[-1].id)
    return xml_response(root)


async def delete_inventory(be: Backend, c: Call) -> Response:
    await run_in_threadpool(be.storage.delete_inventory, c.b, _inventory_id(c))
    return Response(b"", 204)


async def run_inventory_now(be: Backend, c: Call) -> Response:
    """Local stack only: write the rule's report now, as OSS would on its schedule; answers the manifest's key."""
    inventory_id = _inventory_id(c)
    manifest = await run_in_threadpool(lambda: run_inventory(be.storage, c.b, inventory_id, emit=be.emit))
    return xml_response(xmlcodec.document("InventoryRunResult", [("ManifestKey", manifest or "")]))
