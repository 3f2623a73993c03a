"""Engines turn one photo in OSS into IMM-shaped faces. One interface; the setting ``engine`` chooses.

- ``imm``: OSS's ``x-oss-process=imm/detectface`` does the work (IMM bound to the bucket).
- ``local``: the photo is read and analysed in-process by ``ossfaces.vision`` (models shipped with the code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import oss2

from ossfaces.settings import Settings


@dataclass(frozen=True)
class EngineResult:
    """Faces in IMM v1 shape; ``image`` is the ``Image`` block where the engine knows it; ``extra`` holds IMM's top-level fields."""

    faces: list[dict[str, Any]]
    image: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str
    version: str

    def analyze(self, bucket: oss2.Bucket, key: str, etag: str | None) -> EngineResult:
        """Analyse the object ``key``; ``etag`` (when given) pins the version analysed: a newer one answers 412.

        Raises ``BadImage`` when the photo cannot be analysed; OSS errors propagate for the pipeline to classify.
        """
        ...


def engine_tag(engine: Engine) -> str:
    """``name/version``: what a result records as its maker, and what decides whether it is up to date (idempotency,
    backfill). The one definition: the pipeline and the tools both call this."""
    return f"{engine.name}/{engine.version}"


def if_match(etag: str | None) -> dict[str, str]:
    """Request headers that make OSS refuse to serve anything but the version the event announced."""
    return {"If-Match": f'"{etag}"'} if etag else {}


def make_engine(settings: Settings) -> Engine:
    """The engine ``settings`` choose (the local engine loads its models here). The function builds one per instance
    (``invocation.App``); nothing here caches it."""
    if settings.engine == "local":
        from ossfaces.engines.local import LocalEngine

        return LocalEngine(settings)
    from ossfaces.engines.imm import ImmEngine

    return ImmEngine(settings)
