"""One FC invocation: event bytes + context → records through the pipeline → a summary, or a failure FC retries.

Kept apart from ``index.py`` so the entry stays thin and every runtime (built-in, custom bootstrap, local stack) calls
the same code. The settings and the engine are built once per process; credentials are read per invocation.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from ossfaces.engines import get_engine
from ossfaces.errors import ConfigError, OssFacesError, TransientError
from ossfaces.events import parse_event
from ossfaces.pipeline import Pipeline
from ossfaces.settings import Settings
from ossfaces.storage import credentials_from, open_bucket

log = logging.getLogger("ossfaces")


@functools.lru_cache(maxsize=1)
def current_settings() -> Settings:
    """The process's settings, from the environment, read once."""
    settings = Settings()
    log.setLevel(settings.log_level.upper())
    return settings


def initialize(context: Any = None) -> None:
    """Warm the instance: settings, and the engine (the local engine loads its models here, not on the first photo)."""
    get_engine(current_settings())


def handle(event: bytes | str, context: Any) -> dict[str, Any]:
    """Process every record of ``event``; raise the first configuration or transient failure after trying them all."""
    settings = current_settings()
    request_id = str(getattr(context, "request_id", "") or "")
    try:
        records = parse_event(event)
        credentials = credentials_from(context, settings)
        engine = get_engine(settings)
    except OssFacesError as exc:
        _log_failure(exc, request_id)
        raise
    pipeline = Pipeline(
        settings, engine, lambda name, region: open_bucket(settings, credentials, name, region), lease_of(context)
    )
    summary: dict[str, Any] = {"records": len(records), "processed": 0, "error-document": 0, "skipped": 0, "failed": 0}
    failures: list[OssFacesError] = []
    for record in records:
        try:
            outcome = pipeline.process(record, request_id)
        except (ConfigError, TransientError) as exc:
            _log_failure(exc, request_id, bucket=record.bucket, key=record.key)
            summary["failed"] += 1
            failures.append(exc)
            continue
        summary[outcome.action] += 1
    if failures:
        raise failures[0]
    return summary


def lease_of(context: Any) -> float:
    """How long a claim on a photo must last: beyond the function's timeout (FC kills the instance by then)."""
    timeout = getattr(getattr(context, "function", None), "timeout", None)
    try:
        return float(timeout) + 30.0 if timeout else 600.0
    except (TypeError, ValueError):
        return 600.0


def _log_failure(exc: OssFacesError, request_id: str, **where: str) -> None:
    kind = "retry" if isinstance(exc, TransientError) else "fix-configuration"
    fields = {"action": "failed", "kind": kind, **where, "error_code": exc.code, "message": exc.message}
    if request_id:
        fields["request_id"] = request_id
    log.error(json.dumps(fields, ensure_ascii=False))
