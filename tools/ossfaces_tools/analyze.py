"""``ossfaces analyze``: the local face engine on files or folders, one ``.faces.json`` document per image."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ossfaces.document import EngineInfo, FacesDocument, SourceInfo
from ossfaces.engines.local import image_block
from ossfaces.errors import BadImage
from ossfaces.settings import DEFAULT_IMAGE_SUFFIXES


def image_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; folders walked recursively for image suffixes, sorted so output order is stable."""
    out: list[str] = []
    for given in paths:
        if Path(given).is_dir():
            found = [
                p for p in Path(given).rglob("*") if p.is_file() and p.name.lower().endswith(DEFAULT_IMAGE_SUFFIXES)
            ]
            out.extend(str(p) for p in sorted(found))
        else:
            out.append(given)
    return out


def analysis_document(key: str, engine_version: str, analysis: Any | None = None, error: Any = None) -> bytes:
    """The ``.faces.json`` document for one local file, made as the function makes it (``FacesDocument.build``)."""
    return FacesDocument.build(
        SourceInfo(Key=key),
        EngineInfo(Name="local", Version=engine_version),
        faces=analysis.faces if analysis is not None else None,
        image=image_block(analysis.image) if analysis is not None else None,
        error=error,
    ).to_json()


def analyze_paths(analyzer: Any, paths: Iterable[str]) -> Iterator[bytes]:
    """One document per image under ``paths``; an unreadable or bad file gives an error document, never a crash."""
    for key in image_paths(paths):
        try:
            yield analysis_document(key, analyzer.version, analysis=analyzer.analyze(Path(key).read_bytes()))
        except BadImage as exc:
            yield analysis_document(key, analyzer.version, error=exc)
        except OSError as exc:
            yield analysis_document(key, analyzer.version, error=BadImage("InvalidImage.Unreadable", str(exc)))
