"""One FC instance of the function: ``App`` = settings + the engine they choose + how a bucket is opened.

Built once per instance and passed around explicitly: FC's initializer builds it from the environment
(``App.from_environ()``, see ``index.py``), the local stack's in-process runner and the tests build it from what they
declare. Nothing reads ``os.environ`` behind the caller's back, and there is no per-process cache to clear.
``App.handle`` is one invocation: event bytes + context → records through the pipeline → a summary, or a failure FC
retries. Credentials are read per invocation (FC rotates them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import oss2

from ossfaces.engines import Engine, make_engine
from ossfaces.errors import ConfigError, OssFacesError, TransientError
from ossfaces.events import IndexPartEvent, parse_invocation
from ossfaces.pipeline import Pipeline
from ossfaces.settings import Settings
from ossfaces.storage import Credentials, classify, credentials_from, open_bucket

log = logging.getLogger("ossfaces")

# (settings, credentials, bucket name, region) → a signed oss2 Bucket
BucketOpener = Callable[[Settings, Credentials, str, str], oss2.Bucket]


class App:
    """The function as one object. ``engine`` defaults to the one ``settings`` choose, built on first need (or by
    ``initialize``); ``open_bucket`` defaults to ``storage.open_bucket``."""

    def __init__(
        self, settings: Settings, engine: Engine | None = None, open_bucket: BucketOpener = open_bucket
    ) -> None:
        self.settings = settings
        self.open_bucket = open_bucket
        self._engine = engine
        self._lock = threading.Lock()
        log.setLevel(settings.log_level.upper())

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> App:
        """The function as FC configures it: settings from ``environ`` (default: this process's environment)."""
        return cls(Settings.from_environ(os.environ if environ is None else environ))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = make_engine(self.settings)
        return self._engine

    def initialize(self, context: Any = None) -> None:
        """Warm the instance: build the engine (the local engine loads its models here, not on the first photo)."""
        _ = self.engine

    def handle(self, event: bytes | str, context: Any) -> dict[str, Any]:
        """Process every record of ``event``; raise the first configuration or transient failure after trying them all."""
        settings = self.settings
        request_id = str(getattr(context, "request_id", "") or "")
        try:
            request = parse_invocation(event)
            credentials = credentials_from(context, settings)
            if isinstance(request, IndexPartEvent):
                return self._index_part(request, credentials, request_id)
            records = request
            engine = self.engine
        except OssFacesError as exc:
            _log_failure(exc, request_id)
            raise
        opener = self.open_bucket
        pipeline = Pipeline(
            settings,
            engine,
            lambda name, region: opener(settings, credentials, name, region),
            lease_of(context),
            credentials,
        )
        summary: dict[str, Any] = {
            "records": len(records),
            "processed": 0,
            "error-document": 0,
            "skipped": 0,
            "failed": 0,
        }
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

    def _index_part(self, event: IndexPartEvent, credentials: Credentials, request_id: str) -> dict[str, Any]:
        """One chunk of the face index's fan-out: one Parquet part, written once whatever the deliveries."""
        from ossfaces.indexpart import write_part  # DuckDB is loaded only by the instances that write parts

        bucket = self.open_bucket(self.settings, credentials, event.bucket, event.region)
        try:
            rows, photos, written = write_part(bucket, event.part, event.results, event.suffix, event.gen)
        except Exception as exc:  # OSS or the network: transient (FC retries) or configuration (fails loudly)
            raise classify(exc, f"writing index part {event.part}") from exc
        outcome = {"action": "index-part", "part": event.part, "rows": rows, "photos": photos, "written": written}
        log.info(json.dumps({**outcome, "request_id": request_id, "bucket": event.bucket}, ensure_ascii=False))
        return outcome


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
