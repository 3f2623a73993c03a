"""Faces as ``people`` sees them: read from result documents, kept column-wise so 100,000 faces stay small.

A face takes part when its result carries an embedding of the model the people file was made with (the local engine's
SFace vector, PLAN "Shared contract") or an IMM v2 ``FigureClusterId``, and is not marked ``Forgotten``. Everything
else about the face that people needs (age, gender and its confidence, box, quality) is kept beside it; of every
result with faces, where its faces are (:class:`PhotoFaces`); the document itself is dropped at once.

This is the face source of ``people``: anything that fills a :class:`FaceTable` (``add`` per result) can feed it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from ossfaces.document import FaceEmbedding
from ossfaces.embedding import EMBEDDING_MODEL
from ossfaces.forgotten import IDENTITY_FIELDS, Box, box_of

DIM = 128
RESERVED_FIGURES = frozenset({"figure-cluster-id-independent", "figure-cluster-id-unavailable"})
"""IMM v2's ``FigureClusterId`` values that name no cluster (research imm-v2-people-scale.md §2.1)."""


@dataclass(frozen=True)
class FaceRef:
    """One face: the photo's key and the face's position in its ``Faces`` list."""

    key: str
    index: int

    def __str__(self) -> str:
        return f"{self.key}#{self.index}"

    @classmethod
    def parse(cls, text: str) -> FaceRef:
        key, sep, index = text.rpartition("#")
        if not sep or not index.isdigit():
            raise ValueError(f"{text!r}: a face is PHOTO_KEY#INDEX (e.g. photos/a.jpg#0)")
        return cls(key, int(index))


NONE: frozenset[int] = frozenset()  # shared: an empty frozenset made from an iterable is a new 216-byte object


@dataclass(frozen=True, slots=True)
class PhotoFaces:
    """One result as ``people`` keys it: the photo version it describes (ETag), the engine that analysed it, where
    each of its faces is, and which of them carry an identity or the ``Forgotten`` mark. Every result with faces has
    one, usable faces or not: a re-analysis is matched face by face against it (:mod:`.model`)."""

    etag: str
    engine: str
    boxes: tuple[Box, ...]
    identified: frozenset[int] = NONE
    """Faces with any of ``ossfaces.forgotten.IDENTITY_FIELDS``."""
    marked: frozenset[int] = NONE
    """Faces the document marks ``"Forgotten": true``."""


def photo_faces(document: dict[str, Any]) -> PhotoFaces:
    source = document.get("Source") or {}
    engine = document.get("Engine") or {}
    faces = [face if isinstance(face, dict) else {} for face in document.get("Faces") or []]
    return PhotoFaces(
        str(source.get("ETag") or ""),
        sys.intern(f"{engine.get('Name') or ''}/{engine.get('Version') or ''}"),  # one string per engine version
        tuple(box_of(face) or (0, 0, 0, 0) for face in faces),
        frozenset(i for i, face in enumerate(faces) if any(name in face for name in IDENTITY_FIELDS)) or NONE,
        frozenset(i for i, face in enumerate(faces) if face.get("Forgotten") is True) or NONE,
    )


@dataclass
class FaceTable:
    """Every usable face under a prefix, column-wise; row ``i`` of each column is face ``i``."""

    model: str = EMBEDDING_MODEL
    keys: list[str] = field(default_factory=list)
    """Photo keys, one per photo that has at least one usable face."""
    photos: dict[str, PhotoFaces] = field(default_factory=dict)
    """Photo key → its result as people keys it, for every result with faces (usable or not)."""
    photo: list[int] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    can_seed: list[bool] = field(default_factory=list)
    figure: list[str | None] = field(default_factory=list)
    age: list[float] = field(default_factory=list)
    gender: list[str] = field(default_factory=list)
    gender_confidence: list[float] = field(default_factory=list)
    box: list[tuple[int, int, int, int]] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    has_embedding: list[bool] = field(default_factory=list)
    documents: int = 0
    unreadable: int = 0
    other_model: int = 0
    _blocks: list[NDArray[np.float16]] = field(default_factory=list)
    _block: list[NDArray[np.float32]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.photo)

    def ref(self, row: int) -> FaceRef:
        return FaceRef(self.keys[self.photo[row]], self.index[row])

    def add_raw(self, key: str, body: bytes) -> None:
        """One result body as read from OSS (a body that is not JSON is counted, not raised)."""
        self.documents += 1
        try:
            document = json.loads(body)
        except ValueError:
            self.unreadable += 1
            return
        if isinstance(document, dict):
            self.add(key, document)

    def add(self, key: str, document: dict[str, Any]) -> None:
        faces = document.get("Faces") or []
        if document.get("Error") or not faces or not isinstance(faces, list):
            return
        self.photos[key] = info = photo_faces(document)
        photo = -1
        for position, face in enumerate(faces):
            if not isinstance(face, dict) or position in info.marked:
                continue
            vector, can_seed = self._embedding(face)
            figure = face.get("FigureClusterId")
            figure = figure if isinstance(figure, str) and figure not in RESERVED_FIGURES else None
            if vector is None and figure is None:
                continue
            if photo < 0:
                photo = len(self.keys)
                self.keys.append(key)
            gender = str(face.get("Gender") or "").upper()
            self.photo.append(photo)
            self.index.append(position)
            self.can_seed.append(can_seed)
            self.figure.append(figure)
            self.age.append(float(face["Age"]) if isinstance(face.get("Age"), (int, float)) else float("nan"))
            self.gender.append(gender if gender in ("FEMALE", "MALE") else "")
            self.gender_confidence.append(float(face.get("GenderConfidence") or 1.0))
            self.box.append(info.boxes[position])
            self.quality.append(float(face.get("FaceQuality") or 0.0))
            self.has_embedding.append(vector is not None)
            self._block.append(vector if vector is not None else np.zeros(DIM, np.float32))
            if len(self._block) >= 4096:
                self._flush()

    def _embedding(self, face: dict[str, Any]) -> tuple[NDArray[np.float32] | None, bool]:
        value = face.get("Embedding")
        if not isinstance(value, dict):
            return None, False
        try:
            embedding = FaceEmbedding.model_validate(value)
            if embedding.Model != self.model:
                raise ValueError(embedding.Model)
            vector = embedding.vector()  # the contract's one decoder (ValueError for another format or length)
        except (ValidationError, ValueError):
            self.other_model += 1
            return None, False
        return vector, embedding.CanSeed

    def _flush(self) -> None:
        if self._block:
            self._blocks.append(np.asarray(self._block, dtype=np.float16))
            self._block = []

    def embeddings(self) -> NDArray[np.float32]:
        """All embeddings as one float32 matrix (rows without an embedding are zero)."""
        self._flush()
        if not self._blocks:
            return np.zeros((0, DIM), np.float32)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0].astype(np.float32)


def collect_faces(documents: Iterable[tuple[str, bytes | None]], model: str = EMBEDDING_MODEL) -> FaceTable:
    """Stream ``(photo key, result body)`` pairs (``stats.read_documents``) into a :class:`FaceTable`."""
    table = FaceTable(model=model)
    for key, body in documents:
        if body is not None:
            table.add_raw(key, body)
    return table


def faces_from_index(con: Any, model: str = EMBEDDING_MODEL, batch: int = 100_000) -> FaceTable:
    """The same table from the face index (``ossfaces_tools.index``): its ``faces`` view, read in batches, every face
    of every photo with faces (for ``photos``), the usable ones into the columns; embeddings come as one float16
    matrix, never as Python objects. Photos in key order (OSS's order)."""
    table = FaceTable(model=model)
    (table.documents,) = con.execute("SELECT count(*) FROM photos").fetchone()
    result = con.execute(
        "SELECT key, source_etag, engine, face, can_seed, figure, age, gender, gender_confidence, "
        "box_left, box_top, box_width, box_height, quality, embedding_model, embedding, identified, forgotten "
        "FROM faces WHERE status = 'ok' AND face IS NOT NULL ORDER BY key, face"
    )
    blocks: list[NDArray[np.float16]] = []
    vectors: list[bytes] = []
    group: list[tuple[Any, ...]] = []

    def photo(rows: list[tuple[Any, ...]]) -> None:
        key, etag, engine = rows[0][0], rows[0][1], rows[0][2]
        boxes = tuple(tuple(int(v or 0) for v in row[9:13]) for row in rows)
        info = PhotoFaces(str(etag or ""), sys.intern(str(engine or "/")), boxes,  # type: ignore[arg-type]
                          frozenset(r[3] for r in rows if r[16]) or NONE, frozenset(r[3] for r in rows if r[17]) or NONE)  # fmt: skip
        table.photos[key] = info
        first = True
        for row in rows:
            (_, _, _, face, seed, figure, age, gender, confidence, *box, quality, emb_model, vector, _, _) = row
            if face in info.marked:
                continue
            usable = vector is not None and emb_model == model
            if emb_model is not None and not usable:
                table.other_model += 1
            figure = figure if isinstance(figure, str) and figure not in RESERVED_FIGURES else None
            if not usable and figure is None:
                continue
            if first:
                table.keys.append(key)
                first = False
            table.photo.append(len(table.keys) - 1)
            table.index.append(int(face))
            table.can_seed.append(bool(seed) and usable)
            table.figure.append(figure)
            table.age.append(float(age) if age is not None else float("nan"))
            table.gender.append(gender if gender in ("FEMALE", "MALE") else "")
            table.gender_confidence.append(float(confidence or 1.0))
            table.box.append(info.boxes[face])
            table.quality.append(float(quality or 0.0))
            table.has_embedding.append(usable)
            vectors.append(vector if usable else bytes(2 * DIM))

    while rows := result.fetchmany(batch):
        for row in rows:
            if group and group[0][0] != row[0]:
                photo(group)
                group = []
            group.append(row)
        if len(vectors) >= batch:
            blocks.append(np.frombuffer(b"".join(vectors), dtype="<f2").reshape(-1, DIM).astype(np.float16))
            vectors = []
    if group:
        photo(group)
    if vectors:
        blocks.append(np.frombuffer(b"".join(vectors), dtype="<f2").reshape(-1, DIM).astype(np.float16))
    table._blocks = blocks
    return table


def load_faces(bucket: Any, prefix: str, suffix: str, workers: int, model: str) -> FaceTable:
    """The face source of ``people`` and ``stats --by person``: the face index when the prefix has one (a few columns,
    seconds), else every result read (``stats.read_documents``)."""
    from ossfaces_tools.index.layout import IndexStore

    store = IndexStore(bucket, prefix)
    if store.exists():
        from ossfaces_tools.index.local import IndexReader

        with IndexReader(store) as reader:
            return faces_from_index(reader.con, model)
    from ossfaces_tools.stats import read_documents

    return collect_faces(read_documents(bucket, prefix, suffix, workers=workers), model)
