"""FC entry point: OSS upload events → ``<key>.faces.json`` beside each photo.

Trigger: OSS (PutObject, PostObject, CompleteMultipartUpload), or an EventBridge-based OSS trigger. ``event`` is bytes:
``{"events": [record, ...]}`` or CloudEvent(s) carrying a record (research: FC "Trigger event format"). Returns a count
of outcomes (ignored for async invocations). Raises when a record needs the operator (configuration, permission) or
may succeed on retry (network, throttling): FC then retries the invocation; finished records are skipped next time.
"""

from __future__ import annotations

from typing import Any

from ossfaces import invocation


def initializer(context: Any) -> None:
    """FC initializer: build settings and load the engine once per instance."""
    invocation.initialize(context)


def handler(event: bytes, context: Any) -> dict[str, Any]:
    """FC handler."""
    return invocation.handle(event, context)
