"""Engines turn one photo in OSS into IMM-shaped faces. One interface; the setting ``engine`` chooses.

- ``imm``: OSS's ``x-oss-process=imm/detectface`` does the work (IMM v1 bound to the bucket).
- ``imm2``: IMM v2's ``DetectImageFaces`` OpenAPI (a v2 project in the bucket's region), its answer mapped to the
  document's conventions (``engines.imm2``).
- ``local``: the photo is read and analysed in-process by ``ossfaces.vision`` (models shipped with the code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import oss2

from ossfaces.settings import Settings
from ossfaces.storage import Credentials


@dataclass(frozen=True)
class EngineResult:
    """Faces in IMM v1 shape; ``image`` is the ``Image`` block where the engine knows it; ``extra`` holds IMM's top-level fields."""

    faces: list[dict[str, Any]]
    image: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Photo:
    """The photo one record names, and what an engine may use to reach it."""

    bucket: oss2.Bucket  # signed with the invocation's credentials
    key: str
    etag: str | None  # the version the event announced; a newer one must not be analysed in its name
    region: str
    credentials: Credentials | None = None  # the invocation's (engines that call other services need them)


class Engine(Protocol):
    name: str
    version: str

    def analyze(self, photo: Photo) -> EngineResult:
        """Analyse ``photo``; its ``etag`` (when given) pins the version analysed: a newer one answers 412.

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
    if settings.engine == "imm2":
        from ossfaces.engines.imm2 import Imm2Engine

        return Imm2Engine(settings)
    from ossfaces.engines.imm import ImmEngine

    return ImmEngine(settings)
