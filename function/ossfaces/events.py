"""FC event models, with the wire's own field names (research: FC "Trigger event format", EventBridge CloudEvents).

The handler receives bytes in one of three shapes: the native OSS trigger's ``{"events": [record, ...]}``, one CloudEvent
whose ``data`` is a record (EventBridge-based OSS trigger), or a list of such CloudEvents (batched push). All become a list
of ``OssRecord``. Fields FC does not always send are optional; unknown fields are ignored. For created objects FC
always sends ``size`` and ``eTag``: a record without them is refused (``InvalidEvent``) rather than read as an empty
object or a version without an ETag.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ossfaces.errors import ConfigError


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OssBucket(_Wire):
    name: str
    arn: str | None = None
    ownerIdentity: str | None = None
    virtualBucket: str | None = None


class OssObjectMeta(_Wire):
    mimeType: str | None = None
    userMeta: dict[str, str] | None = None


class OssObject(_Wire):
    key: str = Field(min_length=1)
    size: int | None = Field(None, ge=0, description="Required for ObjectCreated records (see OssRecord).")
    eTag: str | None = Field(None, description="Required for ObjectCreated records (see OssRecord).")
    deltaSize: int | None = None
    objectMeta: OssObjectMeta | None = None
    position: int | None = None


class OssInfo(_Wire):
    bucket: OssBucket
    object: OssObject
    ossSchemaVersion: str | None = None
    ruleId: str | None = None


class RequestParameters(_Wire):
    sourceIPAddress: str | None = None


class ResponseElements(_Wire):
    requestId: str | None = None


class UserIdentity(_Wire):
    principalId: str | None = None


class OssRecord(_Wire):
    """One OSS event record. ``eventName`` has no ``oss:`` prefix, e.g. ``ObjectCreated:PutObject``."""

    eventName: str
    eventSource: Literal["acs:oss"] = "acs:oss"
    eventTime: datetime
    eventVersion: str | None = None
    region: str
    oss: OssInfo
    requestParameters: RequestParameters | None = None
    responseElements: ResponseElements | None = None
    userIdentity: UserIdentity | None = None
    xVars: dict[str, str] | None = None

    @model_validator(mode="after")
    def _created_objects_have_size_and_etag(self) -> OssRecord:
        if self.eventName.startswith("ObjectCreated:"):
            missing = [name for name in ("size", "eTag") if getattr(self.oss.object, name) is None]
            if missing:
                raise ValueError(
                    f"an {self.eventName} record without oss.object.{' and oss.object.'.join(missing)} "
                    "(OSS triggers always send them)"
                )
        return self

    @property
    def bucket(self) -> str:
        return self.oss.bucket.name

    @property
    def key(self) -> str:
        return self.oss.object.key

    @property
    def size(self) -> int:
        """The object's size in bytes: always there for ObjectCreated records (refused without it)."""
        if self.oss.object.size is None:
            raise ValueError(f"an {self.eventName} record carries no object size")
        return self.oss.object.size

    @property
    def etag(self) -> str | None:
        """The ETag as OSS writes it in events: upper-case hex, no quotes (normalised, whatever the sender did)."""
        etag = self.oss.object.eTag
        return etag.strip('"').upper() if etag else None


class OssEvent(_Wire):
    """The native OSS trigger's payload."""

    events: list[OssRecord]


class CloudEvent(_Wire):
    """An EventBridge CloudEvents 1.0 envelope around one OSS record."""

    specversion: str
    id: str
    source: str
    type: str
    data: OssRecord
    time: datetime | None = None
    subject: str | None = None


_Payload: TypeAdapter[OssEvent | CloudEvent | list[CloudEvent]] = TypeAdapter(
    Union[OssEvent, CloudEvent, list[CloudEvent]]  # noqa: UP007 (a runtime union, also on Python 3.10)
)


def parse_event(raw: bytes | str) -> list[OssRecord]:
    """Every OSS record in an FC event payload, whatever its envelope.

    A payload that is not one of the known shapes is a trigger misconfiguration (something else is wired to this
    function), so it raises ``ConfigError`` with the validation summary rather than a bare traceback.
    """
    try:
        payload = _Payload.validate_json(raw)
    except ValidationError as exc:
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ConfigError(
            "InvalidEvent",
            f"the event is not an OSS trigger event or a CloudEvent carrying one ({summary}); "
            "check which trigger invokes this function",
        ) from exc
    if isinstance(payload, OssEvent):
        return payload.events
    if isinstance(payload, CloudEvent):
        return [payload.data]
    return [cloud_event.data for cloud_event in payload]


INDEX_PART = "index-part"


class IndexPartEvent(_Wire):
    """The face index's fan-out (``ossfaces index --fc``): write one index part from a chunk of result documents.

    Not an OSS event: routed by ``"ossfaces": "index-part"``, which no trigger sends. ``part`` is the key to create
    (decided by the coordinator, so a retry or a second delivery writes the same key once); ``results`` are the chunk's
    ``[result key, listed ETag]`` pairs in ``bucket``; ``gen`` is the index generation the rows belong to.
    """

    ossfaces: Literal["index-part"]
    version: Literal[1] = 1
    bucket: str
    region: str
    part: str = Field(min_length=1)
    gen: int = Field(ge=1)
    suffix: str = Field(min_length=1)
    results: list[tuple[str, str]]


def parse_invocation(raw: bytes | str) -> list[OssRecord] | IndexPartEvent:
    """What one invocation asks for: OSS records (any envelope, see :func:`parse_event`) or an index part."""
    text = raw.encode("utf-8") if isinstance(raw, str) else raw
    if b'"ossfaces"' in text[:4096]:
        try:
            head = json.loads(text)
        except ValueError:
            head = None
        if isinstance(head, dict) and head.get("ossfaces") == INDEX_PART:
            try:
                return IndexPartEvent.model_validate(head)
            except ValidationError as exc:
                summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
                raise ConfigError("InvalidEvent", f"an index-part event that does not validate ({summary})") from exc
    return parse_event(raw)
