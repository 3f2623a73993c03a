"""The per-record pipeline: guard → up to date? → engine → write ``<key>.faces.json`` → one JSON log line.

Decisions live here once: which records are skipped and why, how idempotency is decided (the result object's metadata,
never its body), how each failure ends (docs/design.md "Errors"), and that a face a user had forgotten gets no
identity back (the same HEAD's metadata names it: ``ossfaces.forgotten``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import oss2

from ossfaces.document import EngineInfo, FacesDocument, SourceInfo
from ossfaces.engines import Engine, Photo, engine_tag
from ossfaces.errors import BadImage
from ossfaces.events import OssRecord
from ossfaces.forgotten import META_FORGOTTEN, decode_boxes, forget_faces
from ossfaces.idempotency import META_ENGINE, META_FACES, META_SOURCE_ETAG, META_STATUS, claimed, result_meta, staleness
from ossfaces.settings import Settings
from ossfaces.storage import Credentials, classify, is_missing, is_superseded

log = logging.getLogger("ossfaces")


# Event names that mean "a complete object now exists at this key".
CREATED_EVENTS = frozenset(
    {
        "ObjectCreated:PutObject",
        "ObjectCreated:PostObject",
        "ObjectCreated:CopyObject",
        "ObjectCreated:AppendObject",
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectCreated:PutSymlink",
    }
)

Action = Literal["processed", "error-document", "skipped"]
UP_TO_DATE = "the result is up to date (same source ETag and engine version)"


@dataclass(frozen=True)
class Outcome:
    """What happened to one record; also the JSON log line (faces summarised per face, for SQL over the logs)."""

    action: Action
    bucket: str
    key: str
    reason: str = ""
    engine: str = ""
    duration_ms: float = 0.0
    request_id: str = ""
    error_code: str = ""
    document: FacesDocument | None = field(default=None, repr=False)

    @property
    def faces(self) -> int:
        return len(self.document.Faces) if self.document else 0

    def log_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            name: value for name, value in self.__dict__.items() if name != "document" and value not in ("", None)
        }
        fields["faces"] = self.faces
        if self.document is not None and self.document.Faces:
            fields["ages"] = [face.Age for face in self.document.Faces]
            fields["genders"] = [face.Gender for face in self.document.Faces]
            fields["emotions"] = [face.Emotion for face in self.document.Faces]
        return fields


def skip_reason(record: OssRecord, settings: Settings) -> str | None:
    """Why this record is not processed, or None. A skip is not an error."""
    key = record.key
    if record.eventName not in CREATED_EVENTS:
        return f"event {record.eventName} does not create a complete object"
    if key.endswith(settings.result_suffix):
        return "the object is a result document (recursion guard)"
    if not key.lower().endswith(settings.image_suffixes):
        return "the key does not end in an image suffix (" + ",".join(settings.image_suffixes) + ")"
    size = record.oss.object.size
    if size is None:  # refused by the event model for created objects; kept so that no path reads None as 0
        return "the event carries no object size"
    if size == 0 and record.eventName != "ObjectCreated:PutSymlink":
        return "the object is empty (0 bytes)"
    if size > settings.max_image_bytes:
        return f"the object is {size} bytes, over OSSFACES_MAX_IMAGE_BYTES={settings.max_image_bytes}"
    return None


def result_key(key: str, settings: Settings) -> str:
    return key + settings.result_suffix


class Pipeline:
    """Processes records for one invocation. ``open_bucket(name, region)`` gives a signed oss2 Bucket."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        open_bucket: Callable[[str, str], oss2.Bucket],
        lease_s: float = 600.0,
        credentials: Credentials | None = None,
    ) -> None:
        """``lease_s``: how long a claim protects an analysis in progress; at least the function's timeout.
        ``credentials``: the invocation's, for engines that call another service (``imm2``)."""
        self.settings = settings
        self.engine = engine
        self.open_bucket = open_bucket
        self.lease_s = lease_s
        self.credentials = credentials

    def process(self, record: OssRecord, request_id: str = "") -> Outcome:
        """Handle one record and log its outcome. Raises ``ConfigError`` / ``TransientError`` to fail the invocation."""
        started = time.perf_counter()
        outcome = self._process(record, request_id)
        outcome = dataclasses.replace(outcome, duration_ms=round((time.perf_counter() - started) * 1000, 1))
        log.info(json.dumps(outcome.log_fields(), ensure_ascii=False))
        return outcome

    def _process(self, record: OssRecord, request_id: str) -> Outcome:
        def outcome(
            action: Action, reason: str = "", error_code: str = "", document: FacesDocument | None = None
        ) -> Outcome:
            return Outcome(
                action,
                record.bucket,
                record.key,
                reason,
                self.engine.name,
                request_id=request_id,
                error_code=error_code,
                document=document,
            )

        reason = skip_reason(record, self.settings)
        if reason:
            return outcome("skipped", reason)
        try:
            bucket = self.open_bucket(record.bucket, record.region)
        except (oss2.exceptions.OssError, OSError) as exc:
            raise classify(exc, f"opening bucket {record.bucket!r}") from exc
        target = result_key(record.key, self.settings)
        etag = record.etag
        meta = result_meta(bucket, target)
        if etag is None:  # nothing to be idempotent on (no ETag in the event): analyse
            return self._analyse(record, bucket, target, outcome, meta or {})
        if meta is not None and staleness(meta, etag, self.engine_tag) == "up-to-date":
            return outcome("skipped", UP_TO_DATE)
        with claimed(bucket, target, etag, self.lease_s, request_id):
            meta = result_meta(bucket, target)  # finished by another invocation, or forgotten, while we claimed?
            if meta is not None and staleness(meta, etag, self.engine_tag) == "up-to-date":
                return outcome("skipped", UP_TO_DATE)
            return self._analyse(record, bucket, target, outcome, meta or {})

    def _analyse(
        self,
        record: OssRecord,
        bucket: oss2.Bucket,
        target: str,
        outcome: Callable[..., Outcome],
        previous: Mapping[str, str],
    ) -> Outcome:
        """Engine → document → one PUT; the failure policy of docs/design.md "Errors". ``previous``: the metadata of
        the result this one replaces (its forgotten faces stay forgotten)."""
        forgotten = previous.get(META_FORGOTTEN, "")
        try:
            result = self.engine.analyze(Photo(bucket, record.key, record.etag, record.region, self.credentials))
        except BadImage as exc:
            document = self._document(record, error=exc)
            self._write(bucket, target, document, record.etag, status="error", forgotten=forgotten)
            return outcome("error-document", exc.message, error_code=exc.code, document=document)
        except oss2.exceptions.OssError as exc:
            if is_superseded(exc):
                return outcome("skipped", "the object changed since the event; its own event will process it")
            if is_missing(exc):
                return outcome("skipped", "the object no longer exists")
            raise classify(exc, f"analysing oss://{record.bucket}/{record.key}") from exc
        except OSError as exc:
            raise classify(exc, f"analysing oss://{record.bucket}/{record.key}") from exc
        forget_faces(result.faces, decode_boxes(forgotten))
        document = self._document(record, faces=result.faces, image=result.image, extra=result.extra)
        self._write(bucket, target, document, record.etag, status="ok", forgotten=forgotten)
        return outcome("processed", document=document)

    @property
    def engine_tag(self) -> str:
        """``engines.engine_tag`` of this pipeline's engine."""
        return engine_tag(self.engine)

    def _document(self, record: OssRecord, **parts: Any) -> FacesDocument:
        source = SourceInfo(
            Bucket=record.bucket,
            Key=record.key,
            ETag=record.etag,
            Size=record.oss.object.size,
            EventName=record.eventName,
            EventTime=record.eventTime,
        )
        return FacesDocument.build(source, EngineInfo(Name=self.engine.name, Version=self.engine.version), **parts)

    def _write(
        self, bucket: oss2.Bucket, target: str, document: FacesDocument, etag: str | None, status: str, forgotten: str
    ) -> None:
        """One PUT: the object appears whole or not at all, with the idempotency metadata beside it."""
        headers = {
            "Content-Type": "application/json",
            META_ENGINE: self.engine_tag,
            META_FACES: str(len(document.Faces)),
            META_STATUS: status,
        }
        if etag:
            headers[META_SOURCE_ETAG] = etag
        if forgotten:
            headers[META_FORGOTTEN] = forgotten
        try:
            bucket.put_object(target, document.to_json(), headers=headers)
        except (oss2.exceptions.OssError, OSError) as exc:
            raise classify(exc, f"writing oss://{bucket.bucket_name}/{target}") from exc
