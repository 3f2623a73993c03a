"""FC entry point: OSS upload events → ``<key>.faces.json`` beside each photo.

Trigger: OSS (PutObject, PostObject, CompleteMultipartUpload), or an EventBridge-based OSS trigger. ``event`` is bytes:
``{"events": [record, ...]}`` or CloudEvent(s) carrying a record (research: FC "Trigger event format"). Returns a count
of outcomes (ignored for async invocations). Raises when a record needs the operator (configuration, permission) or
may succeed on retry (network, throttling): FC then retries the invocation; finished records are skipped next time.

The instance's one ``App`` (settings from the environment + engine) is built by the initializer, or by the first
invocation when no initializer is configured.
"""

from __future__ import annotations

import threading
from typing import Any

from ossfaces.invocation import App

_app: App | None = None
_lock = threading.Lock()


def _instance() -> App:
    global _app
    with _lock:
        if _app is None:
            _app = App.from_environ()
        return _app


def initializer(context: Any) -> None:
    """FC initializer: build settings and load the engine once per instance."""
    _instance().initialize(context)


def handler(event: bytes, context: Any) -> dict[str, Any]:
    """FC handler."""
    return _instance().handle(event, context)
