"""One part of the face index: read a chunk of result documents, write them as one Parquet file into the bucket.

The index (``tools/ossfaces_tools/index``, docs/scale.md) is Parquet parts under ``<prefix>/.ossfaces/index/``: one row
per face with the photo's key, the result's ETag, the engine, every attribute ``stats`` counts and the embedding
``people`` clusters; a photo without faces (or with an error document, or an unreadable result) is one row whose
``face`` is NULL, so photos are counted too. Written by DuckDB, read by any Parquet engine.

The same code runs in the deployed function (one async invocation per chunk, the fan-out) and in the tools' local
pool. **Exactly once, whatever the delivery**: the part's key is decided by the coordinator (generation, run, chunk
number) and written with ``x-oss-forbid-overwrite``, so a retry or a second delivery of the same chunk finds the part
there and writes nothing; the coordinator lists only the parts it planned, so nothing is counted twice.
"""

from __future__ import annotations

import base64
import binascii
import csv
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import oss2
from pydantic import ValidationError

from ossfaces.document import FacesDocument
from ossfaces.embedding import EMBEDDING_DIMENSIONS, EMBEDDING_FORMAT
from ossfaces.forgotten import IDENTITY_FIELDS

FORMAT = "ossfaces-index/1"
SCHEMA: tuple[tuple[str, str], ...] = (
    ("key", "VARCHAR"),  # the photo's key
    ("result_etag", "VARCHAR"),  # the ETag of <key>.faces.json as read: an incremental run compares it
    ("source_etag", "VARCHAR"),  # Source.ETag: the photo version the result describes
    ("engine", "VARCHAR"),  # Engine.Name/Engine.Version
    ("stand_in", "VARCHAR"),  # LocalStandIn: the local stack's imm/detectface answered by local/<version>
    ("gen", "INTEGER"),  # the index generation that wrote the row
    ("status", "VARCHAR"),  # ok | error | unreadable
    ("error", "VARCHAR"),  # Error.Code of an error document
    ("faces", "SMALLINT"),  # faces in the photo
    ("face", "SMALLINT"),  # this face's position in Faces; NULL on a photo's only row when it has no face
    ("age", "SMALLINT"),
    ("age_sd", "DOUBLE"),
    ("gender", "VARCHAR"),  # upper-cased as written
    ("gender_confidence", "DOUBLE"),
    ("emotion", "VARCHAR"),  # upper-cased as written; NULL when absent or empty
    ("quality", "DOUBLE"),
    ("box_left", "INTEGER"),
    ("box_top", "INTEGER"),
    ("box_width", "INTEGER"),
    ("box_height", "INTEGER"),
    ("figure", "VARCHAR"),  # IMM v2 FigureClusterId
    ("can_seed", "BOOLEAN"),
    ("identified", "BOOLEAN"),  # the face has an identity field (ossfaces.forgotten.IDENTITY_FIELDS)
    ("forgotten", "BOOLEAN"),  # "Forgotten": true (ossfaces people forget)
    ("embedding_model", "VARCHAR"),
    ("embedding", "BLOB"),  # 128 little-endian float16 (the document's Data, base64-decoded); NULL when unusable
)
COLUMNS = tuple(name for name, _ in SCHEMA)
ROWS_META = "x-oss-meta-ossfaces-rows"
PHOTOS_META = "x-oss-meta-ossfaces-photos"


class Rows:
    """Rows being collected, one CSV line each in a temp file (DuckDB reads it back typed as :data:`SCHEMA`; an
    empty field is NULL)."""

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(suffix=".csv")
        self.path = Path(path)
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self.rows = 0
        self.photos = 0

    def __len__(self) -> int:
        return self.rows

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

    def add(self, **values: Any) -> None:
        self._csv.writerow([values.get(name) for name in COLUMNS])
        self.rows += 1

    def add_result(self, key: str, result_etag: str, gen: int, body: bytes) -> None:
        """One result document as read (``key`` is the photo's key): a row per face, or one row for the photo."""
        self.photos += 1
        base: dict[str, Any] = {"key": key, "result_etag": result_etag, "gen": gen}
        try:
            document = FacesDocument.model_validate_json(body)
        except (ValidationError, ValueError):
            self.add(**base, status="unreadable", faces=0)
            return
        stand_in = (document.model_extra or {}).get("LocalStandIn")
        base |= {"source_etag": document.Source.ETag, "engine": f"{document.Engine.Name}/{document.Engine.Version}",
                 "stand_in": stand_in if isinstance(stand_in, str) else None}  # fmt: skip
        if document.Error is not None:
            self.add(**base, status="error", error=document.Error.Code, faces=0)
            return
        faces = document.Faces
        if not faces:
            self.add(**base, status="ok", faces=0)
            return
        for position, face in enumerate(faces):
            box = face.FaceAttributes.FaceBoundary if face.FaceAttributes else None
            identified = any(getattr(face, name, None) is not None for name in IDENTITY_FIELDS)
            model, vector, can_seed = None, None, None
            if face.Embedding is not None:
                model, can_seed = face.Embedding.Model, face.Embedding.CanSeed
                vector = face.Embedding.Data if _usable(face.Embedding.Data, face.Embedding.Format) else None
            self.add(
                **base, status="ok", faces=len(faces), face=position, age=face.Age, age_sd=face.AgeSD,
                gender=face.Gender.upper() if face.Gender else None, gender_confidence=face.GenderConfidence,
                emotion=face.Emotion.upper() if face.Emotion else None, quality=face.FaceQuality,
                box_left=box.Left if box else None, box_top=box.Top if box else None,
                box_width=box.Width if box else None, box_height=box.Height if box else None,
                figure=face.FigureClusterId, can_seed=can_seed, embedding_model=model, embedding=vector,
                identified=identified, forgotten=face.Forgotten is True,
            )  # fmt: skip

    def write_parquet(self, path: str) -> None:
        """The rows as one Parquet file (zstd), columns typed as :data:`SCHEMA` says, by DuckDB."""
        import duckdb

        self._file.flush()
        wire = {name: ("VARCHAR" if name == "embedding" else kind) for name, kind in SCHEMA}
        columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in wire.items()) + "}"
        select = ", ".join("from_base64(embedding) AS embedding" if n == "embedding" else n for n in COLUMNS)
        source = str(self.path).replace("'", "''")
        reader = f"read_csv('{source}', header=false, columns={columns}, nullstr='', quote='\"', escape='\"')"
        con = duckdb.connect(config={"threads": 1})
        try:
            con.execute(
                f"COPY (SELECT {select} FROM {reader}) TO '{path.replace(chr(39), chr(39) * 2)}' "
                "(FORMAT PARQUET, COMPRESSION ZSTD)"
            )
        finally:
            con.close()


def _usable(data: str, fmt: str) -> bool:
    """The embedding decodes to 128 float16 values (anything else is kept out of the index's vectors)."""
    if fmt != EMBEDDING_FORMAT:
        return False
    try:
        return len(base64.b64decode(data, validate=True)) == 2 * EMBEDDING_DIMENSIONS
    except (binascii.Error, ValueError):
        return False


def read_results(
    bucket: oss2.Bucket, results: Iterable[tuple[str, str]], suffix: str, gen: int, workers: int = 16
) -> Rows:
    """Read ``(result key, listed ETag)`` pairs concurrently; a result gone meanwhile is left out (not a row)."""
    rows = Rows()

    def fetch(key: str) -> tuple[str, str, bytes] | None:
        try:
            result = bucket.get_object(key)
            return key, str(result.etag or "").strip('"').upper(), result.read()
        except oss2.exceptions.NoSuchKey:
            return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-part") as pool:
        for got in pool.map(fetch, [key for key, _ in results]):
            if got is not None:
                key, etag, body = got
                rows.add_result(key[: -len(suffix)], etag, gen, body)
    return rows


def write_part(
    bucket: oss2.Bucket, part_key: str, results: list[tuple[str, str]], suffix: str, gen: int, workers: int = 16
) -> tuple[int, int, bool]:
    """Read the chunk's results and create ``part_key`` once: (rows, photos, written). ``written`` is False when the
    part was already there (a retry or a second delivery): nothing is read or written again."""
    try:
        head = bucket.head_object(part_key)
        return int(head.headers.get(ROWS_META, 0)), int(head.headers.get(PHOTOS_META, 0)), False
    except oss2.exceptions.NotFound:
        pass
    rows = read_results(bucket, results, suffix, gen, workers)
    fd, path = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    try:
        rows.write_parquet(path)
        headers = {"x-oss-forbid-overwrite": "true", "Content-Type": "application/vnd.apache.parquet",
                   ROWS_META: str(len(rows)), PHOTOS_META: str(rows.photos)}  # fmt: skip
        try:
            bucket.put_object_from_file(part_key, path, headers=headers)
        except oss2.exceptions.ServerError as exc:
            if exc.status == 409 and exc.code == "FileAlreadyExists":  # a concurrent delivery of the same chunk won
                return len(rows), rows.photos, False
            raise
    finally:
        rows.close()
        Path(path).unlink(missing_ok=True)
    return len(rows), rows.photos, True
