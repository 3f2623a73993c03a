"""OSS triggers and the functions they fire: what a trigger is and whether an upload matches it, in one place, so the
local stack fires exactly when FC would.

Two kinds:
- native OSS trigger: the OSS event name is one of the trigger's events (``oss:ObjectCreated:*`` covers every created
  event) and the key has the trigger's prefix and suffix, case-sensitively (research: FC "OSS triggers"; fun
  ``oss-event.js``; fc3 ``IOssTriggerConfig``); at most 10 per bucket.
- EventBridge-based OSS trigger (fc3 ``triggerType: eventbridge`` on the ``Default`` event source): the upload's
  CloudEvent matches the trigger's event pattern (``patterns.py``). The function gets the CloudEvent.

Reading them from ``template.yml`` / ``s.yaml`` is ``descriptors.py``; which keys reach the function, ``reach.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ossfaces_localstack.fc.patterns import cloud_event_shape, describe_condition, dig, pattern_matches

log = logging.getLogger("ossfaces_localstack.fc")

DEFAULT_ACCOUNT_ID = "1234567890123456"  # a local owner UID: FC events always carry one
DEFAULT_ASYNC_RETRIES = 3  # FC's default maxAsyncRetryAttempts


@dataclass(frozen=True)
class FunctionSpec:
    """What FC knows about a function that the local stack needs to run it like FC does."""

    name: str
    service: str = ""  # FC 2.0 service; FC 3.0 has none
    handler: str = "index.handler"
    initializer: str = ""
    runtime: str = ""
    memory: int = 512
    timeout: int = 60
    code_dir: Path | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    max_async_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    region: str = ""
    source: Path | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.service}/{self.name}" if self.service else self.name


@dataclass(frozen=True)
class Trigger:
    """One OSS trigger (native or EventBridge-based): which bucket, which events, which keys, which function."""

    name: str
    function: FunctionSpec
    bucket: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""
    region: str = ""
    account_id: str = DEFAULT_ACCOUNT_ID
    qualifier: str = "LATEST"
    source: Path | None = None
    kind: str = "oss"  # "oss" (native) | "eventbridge"
    pattern: Mapping[str, Any] | None = None  # the EventBridge event pattern (kind "eventbridge")

    @property
    def rule_id(self) -> str:
        """A stable 40-hex id, like the event-notification rule id FC creates for a trigger."""
        seed = f"{self.function.qualified_name}\0{self.name}\0{self.bucket}"
        return hashlib.sha1(seed.encode()).hexdigest()

    def matches_event(self, event_name: str) -> bool:
        """``event_name`` as OSS emits it (``ObjectCreated:PutObject``) against the configured ``oss:…`` names."""
        for configured in self.events:
            pattern = configured.removeprefix("oss:")
            if pattern == event_name or (pattern.endswith(":*") and event_name.startswith(pattern[:-1])):
                return True
        return False

    def matches(self, bucket: str, event_name: str, key: str) -> bool:
        if self.kind == "eventbridge":
            region = self.region or "cn-hangzhou"
            shape = cloud_event_shape(region, self.account_id, bucket, event_name, key)
            return pattern_matches(self.pattern or {}, shape)
        return (
            bucket == self.bucket
            and self.matches_event(event_name)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )

    def with_bucket(self, bucket: str) -> Trigger:
        pattern = self.pattern
        if pattern is not None and isinstance(dig(pattern, "data", "oss", "bucket"), Mapping):
            pattern = json.loads(json.dumps(pattern))
            pattern["data"]["oss"]["bucket"]["name"] = [bucket]
        return dataclasses.replace(self, bucket=bucket, pattern=pattern)

    def summary(self) -> str:
        """One line for ``ossfaces up``: what this trigger listens to."""
        if self.kind == "eventbridge":
            keys = dig(self.pattern or {}, "data", "oss", "object", "key")
            if isinstance(keys, list) and keys and all(isinstance(c, Mapping) and set(c) == {"suffix"} for c in keys):
                shown = f"ends in one of {' '.join(c['suffix'] for c in keys)} ({len(keys)})"
            elif isinstance(keys, list):
                shown = "matches " + ", ".join(describe_condition(c) for c in keys)
            else:
                shown = "any"
            return f"{self.name} (EventBridge): {', '.join(e.removeprefix('oss:') for e in self.events)}; key {shown}"
        return f"{self.name} (OSS): {', '.join(self.events)}; prefix={self.prefix!r} suffix={self.suffix!r}"


def case_variants(suffix: str) -> tuple[str, ...]:
    """``.jpg`` → ``.jpg .JPG .Jpg``: the cases users produce (most tools; cameras and phones; some editors)."""
    lower = suffix.lower()
    title = lower[:1] + lower[1:2].upper() + lower[2:] if lower.startswith(".") else lower.title()
    return tuple(dict.fromkeys((lower, lower.upper(), title)))


def for_local_bucket(triggers: Sequence[Trigger], bucket: str) -> list[Trigger]:
    """All triggers pointed at the local bucket, with duplicates merged.

    template.yml and s.yaml usually describe the same deployment; once both point at one local bucket, a trigger they
    share (same function, events, prefix, suffix) must fire once, not twice.
    """
    merged: dict[tuple[str, frozenset[str], str, str, str], Trigger] = {}
    for trigger in triggers:
        local = trigger.with_bucket(bucket)
        shape = json.dumps(local.pattern, sort_keys=True) if local.pattern is not None else ""
        identity = (local.function.name, frozenset(local.events), local.prefix, local.suffix, shape)
        if identity in merged:
            log.info("trigger %s from %s duplicates one already read; fired once", trigger.name, trigger.source)
            continue
        merged[identity] = local
    return list(merged.values())


CREATED_EVENTS = (
    "oss:ObjectCreated:PutObject",
    "oss:ObjectCreated:PostObject",
    "oss:ObjectCreated:CopyObject",
    "oss:ObjectCreated:CompleteMultipartUpload",
)
"""What makes a new photo: an upload, a browser form, a server-side copy, a finished multipart upload. Not
``ObjectCreated:*``: it includes InitiateMultipartUpload and UploadPart, which fire before the object exists."""


def image_pattern(bucket: str, suffixes: Iterable[str], events: Iterable[str] = CREATED_EVENTS) -> dict[str, Any]:
    """The EventBridge event pattern of the project's trigger: created objects of ``bucket`` whose key ends in one of
    ``suffixes`` in lower, UPPER or Title case (s.yaml spells out the same, checked by a test)."""
    keys = [{"suffix": v} for suffix in suffixes for v in case_variants(suffix)]
    return {
        "source": ["acs.oss"],
        "type": list(events),
        "data": {"oss": {"bucket": {"name": [bucket]}, "object": {"key": keys}}},
    }


def default_triggers(bucket: str, suffixes: Iterable[str], function: FunctionSpec | None = None) -> list[Trigger]:
    """Without template.yml / s.yaml: the project's own trigger, one EventBridge-based OSS trigger on the image suffixes."""
    spec = function or FunctionSpec(name="ossfaces", service="ossfaces", initializer="index.initializer")
    pattern = image_pattern(bucket, suffixes)
    return [Trigger("oss-images", spec, bucket, tuple(pattern["type"]), kind="eventbridge", pattern=pattern)]
