"""The FC OSS trigger event, built from the local OSS's ``ObjectCreated`` notice exactly as FC delivers it.

Shape: research/alicloud.md §1.1 (FC "Trigger event format"): ``{"events": [record]}``, one record per invocation,
``eventName`` without the ``oss:`` prefix, ``eventTime`` with milliseconds ``.000Z``, upper-case ETag without quotes,
``objectMeta`` as the newer docs show it, ``position`` only for appends. Delivered to the handler as UTF-8 bytes.
"""

from __future__ import annotations

import json
import uuid
from datetime import timezone
from typing import Any

from ossfaces_localstack.fc.triggers import Trigger
from ossfaces_localstack.oss.events import ObjectCreated


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
    """The event payload FC hands the function for ``created``: bytes, as the Python runtime receives them.

    Native OSS trigger: ``{"events": [record]}``. EventBridge-based OSS trigger: one CloudEvents 1.0 envelope whose
    ``data`` is the record (research/alicloud.md §1.5; the fields of the capture there).
    """
    record = event_record(created, trigger, region)
    if trigger.kind != "eventbridge":
        return json.dumps({"events": [record]}, ensure_ascii=False).encode("utf-8")
    moment = created.time.astimezone(timezone.utc)
    envelope = {
        "id": str(uuid.uuid4()).upper(),
        "source": "acs.oss",
        "specversion": "1.0",
        "type": f"oss:{record['eventName']}",
        "subject": f"acs:oss:{region}:{trigger.account_id}:{created.bucket}/{created.key}",
        "time": record["eventTime"],
        "datacontenttype": "application/json;charset=utf-8",
        "aliyunaccountid": trigger.account_id,
        "aliyunoriginalaccountid": trigger.account_id,
        "aliyunpublishtime": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "aliyuneventbusname": "default",
        "aliyunregionid": region,
        "data": record,
    }
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")
