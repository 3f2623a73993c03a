"""RestoreObject and the restore state OSS reports (``x-oss-restore``, ``RestoreInfo``) for archived objects.

OSS ("Restore objects for access"): an Archive, Cold Archive or Deep Cold Archive object is frozen: its metadata can
be read, its body cannot (403 InvalidObjectState) until a RestoreObject makes a temporary readable copy. The first
request answers 202 and the object is restoring (a second one: 409 RestoreAlreadyInProgress); once restored, a
request answers 200 and extends the copy's lifetime; when it expires the object is frozen again. OSS takes about a
minute for Archive and hours for the colder classes; the local OSS takes ``restore_seconds`` (default 60) for all.
"""

from __future__ import annotations

import time
from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import xmlcodec
from ..backend import Backend
from ..call import Call
from ..errors import OssError, invalid_argument, malformed_xml
from ..names import http_date
from ..storage import ARCHIVE_CLASSES, ObjectAttrs, ObjectMeta, Restore
from ..storage.records import ts

DAY_S = 24 * 3600
MAX_DAYS = {"Archive": 7, "ColdArchive": 365, "DeepColdArchive": 365}
# Restore priorities of the colder classes (Archive has none: a JobParameters for it is MalformedXml, as oss2's suite
# checks); without one, Standard.
TIERS = {"ColdArchive": ("Expedited", "Standard", "Bulk"), "DeepColdArchive": ("Expedited", "Standard")}


def restore_header(attrs: ObjectAttrs, now: float) -> str | None:
    """The ``x-oss-restore`` value (and a listing's ``RestoreInfo``): None when no restore is under way or in effect."""
    r = attrs.restore
    state = r.state(now) if r is not None else "expired"
    if r is None or state == "expired":
        return None
    if state == "ongoing":
        return 'ongoing-request="true"'
    return f'ongoing-request="false", expiry-date="{http_date(ts(r.expires))}"'


def parse_request(body: bytes, storage_class: str) -> tuple[int, str | None]:
    """Days (1 when the body names none) and priority (None for Archive) of a ``<RestoreRequest>`` body, checked
    against the object's class."""
    days, tier = 1, None if storage_class == "Archive" else "Standard"
    if body.strip():
        root = xmlcodec.parse(body)
        if root.tag != "RestoreRequest":
            raise malformed_xml()
        days_s = (root.findtext("Days") or "1").strip()
        if not days_s.isdigit():
            raise invalid_argument("The Days of the restore request is invalid.", "Days", days_s)
        days = int(days_s)
        if (asked := root.findtext("JobParameters/Tier")) is not None:
            if storage_class not in TIERS:
                raise malformed_xml()
            if asked.strip() not in TIERS[storage_class]:
                raise invalid_argument("The Tier of the restore request is invalid.", "Tier", asked, ec="0016-00000703")
            tier = asked.strip()
    if not 1 <= days <= MAX_DAYS.get(storage_class, 7):
        raise invalid_argument("The Days of the restore request is invalid.", "Days", str(days))
    return days, tier


async def restore_object(be: Backend, c: Call) -> Response:
    body = await c.read_xml_body()
    now = time.time()
    answered, priority = 202, None

    def change(meta: ObjectMeta) -> ObjectAttrs:
        nonlocal answered, priority
        cls = meta.attrs.storage_class
        if cls not in ARCHIVE_CLASSES:
            raise OssError(400, "OperationNotSupported", "The operation is not supported for this resource.")
        days, priority = parse_request(body, cls)
        r = meta.attrs.restore
        state = r.state(now) if r is not None else "expired"
        if state == "ongoing":
            raise OssError(409, "RestoreAlreadyInProgress", "The restore operation is in progress.")
        if r is not None and state == "restored":
            answered = 200
            longest = r.ready + MAX_DAYS[cls] * DAY_S
            return replace(meta.attrs, restore=Restore(r.ready, min(r.expires + days * DAY_S, longest)))
        ready = now + be.restore_seconds  # not rounded: a restore is never ready sooner than asked
        return replace(meta.attrs, restore=Restore(ready, ready + days * DAY_S))

    await run_in_threadpool(be.storage.update_attrs, c.b, c.k, change)
    return Response(b"", answered, headers={"x-oss-object-restore-priority": priority} if priority else None)
