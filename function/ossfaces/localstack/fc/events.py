"""The FC OSS trigger event, built from the local OSS's ``ObjectCreated`` notice exactly as FC delivers it.

Shape: research/alicloud.md §1.1 (FC "Trigger event format"): ``{"events": [record]}``, one record per invocation,
``eventName`` without the ``oss:`` prefix, ``eventTime`` with milliseconds ``.000Z``, upper-case ETag without quotes,
``objectMeta`` as the newer docs show it, ``position`` only for appends. Delivered to the handler as UTF-8 bytes.
"""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any

from ossfaces.localstack.fc.triggers import Trigger
from ossfaces.localstack.oss.events import ObjectCreated


def event_record(created: ObjectCreated, trigger: Trigger, region: str) -> dict[str, Any]:
    """One OSS event record for ``created`` as ``trigger``'s rule would announce it."""
    owner = trigger.account_id
    obj: dict[str, Any] = {
        "deltaSize": created.delta_size,
        "eTag": created.etag.strip('"').upper(),
        "key": created.key,
        "objectMeta": {"mimeType": created.content_type, "userMeta": dict(created.user_meta)},
        "size": created.size,
    }
    if created.position is not None:
        obj["position"] = created.position
    moment = created.time.astimezone(timezone.utc)
    return {
        "eventName": created.event_name.removeprefix("oss:"),
        "eventSource": "acs:oss",
        "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventVersion": "1.0",
        "oss": {
            "bucket": {
                "arn": f"acs:oss:{region}:{owner}:{created.bucket}",
                "name": created.bucket,
                "ownerIdentity": owner,
                "virtualBucket": "",
            },
            "object": obj,
            "ossSchemaVersion": "1.0",
            "ruleId": trigger.rule_id,
        },
        "region": region,
        "requestParameters": {"sourceIPAddress": created.source_ip},
        "responseElements": {"requestId": created.request_id},
        "userIdentity": {"principalId": owner},
    }


def build_event(created: ObjectCreated, trigger: Trigger, region: str) -> bytes:
    """The event payload FC hands the function for ``created``: bytes, as the Python runtime receives them."""
    return json.dumps({"events": [event_record(created, trigger, region)]}, ensure_ascii=False).encode("utf-8")
