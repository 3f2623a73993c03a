"""Faces as ``people`` sees them: read from result documents or the face index, kept column-wise and compact.

A face takes part when its result carries an embedding of the model the people file was made with (the local engine's
SFace vector, PLAN "Shared contract") or an IMM v2 ``FigureClusterId``, and is not marked ``Forgotten``. Everything
else about the face that people needs (age, gender and its confidence, box, quality) is kept beside it; of every
result with faces, where its faces are (:class:`PhotoFaces`); the document itself is dropped at once.

This is the face source of ``people``: anything that fills a :class:`FaceTable` (``add`` per result) can feed it.
"""

from __future__ import annotations

import json
import math
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

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


GENDERS = {"FEMALE": "FEMALE", "MALE": "MALE"}  # one shared string per value, however many faces


def gender_of(value: object) -> str:
    return GENDERS.get(str(value or "").upper(), "")


class BoxColumn(Sequence[Box]):
    """Each face's box, looked up in its photo's :class:`PhotoFaces` (kept there for every face anyway): a column of
    its own would cost a tuple per face."""

    def __init__(self, table: FaceTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    @overload
    def __getitem__(self, row: int) -> Box: ...
    @overload
    def __getitem__(self, row: slice) -> list[Box]: ...
    def __getitem__(self, row: int | slice) -> Box | list[Box]:
        if isinstance(row, slice):
            return [self[r] for r in range(len(self))[row]]
        table = self._table
        key = table.keys[table.photo[row]]
        return table.photos[key].boxes[table.index[row]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BoxColumn) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass
class FaceTable:
    """Every usable face under a prefix, column-wise; row ``i`` of each column is face ``i``.

    Compact at a million faces: numbers in typed arrays (``array.array``: 4-8 bytes a face, where a list holds a
    pointer and a Python object), embeddings in one float16 matrix as the contract stores them (2 bytes a value;
    the clustering widens a block of rows at a time), boxes in :attr:`photos`."""

    model: str = EMBEDDING_MODEL
    keys: list[str] = field(default_factory=list)
    """Photo keys, one per photo that has at least one usable face."""
    photos: dict[str, PhotoFaces] = field(default_factory=dict)
    """Photo key → its result as people keys it, for every result with faces (usable or not)."""
    photo: array[int] = field(default_factory=lambda: array("i"))
    """Row → position of its photo in :attr:`keys`."""
    index: array[int] = field(default_factory=lambda: array("i"))
    """Row → the face's position in its result's ``Faces``."""
    can_seed: array[int] = field(default_factory=lambda: array("b"))
    """1 where the face may found a person (``CanSeed``), else 0."""
    figure: list[str | None] = field(default_factory=list)
    age: array[float] = field(default_factory=lambda: array("d"))
    """NaN where the result gives no age."""
    gender: list[str] = field(default_factory=list)
    gender_confidence: array[float] = field(default_factory=lambda: array("d"))
    quality: array[float] = field(default_factory=lambda: array("d"))
    has_embedding: array[int] = field(default_factory=lambda: array("b"))
    documents: int = 0
    unreadable: int = 0
    other_model: int = 0
    _blocks: list[NDArray[np.float16]] = field(default_factory=list)
    _block: list[NDArray[np.float32]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.photo)

    @property
    def box(self) -> BoxColumn:
        return BoxColumn(self)

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
            age = float(face["Age"]) if isinstance(face.get("Age"), (int, float)) else math.nan
            self.append(photo, position, can_seed, figure, age, gender_of(face.get("Gender")),
                        float(face.get("GenderConfidence") or 1.0), float(face.get("FaceQuality") or 0.0),
                        vector is not None)  # fmt: skip
            self._block.append(vector if vector is not None else np.zeros(DIM, np.float32))
            if len(self._block) >= 4096:
                self._flush()

    def append(self, photo: int, index: int, can_seed: bool, figure: str | None, age: float, gender: str,
               gender_confidence: float, quality: float, has_embedding: bool) -> None:  # fmt: skip
        """One face's columns (its embedding goes in separately: ``add`` or :func:`faces_from_index`)."""
        self.photo.append(photo)
        self.index.append(index)
        self.can_seed.append(can_seed)
        self.figure.append(figure)
        self.age.append(age)
        self.gender.append(gender)
        self.gender_confidence.append(gender_confidence)
        self.quality.append(quality)
        self.has_embedding.append(has_embedding)

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

    def embeddings(self) -> NDArray[np.float16]:
        """All embeddings as one float16 matrix, as the contract stores them (rows without an embedding are zero):
        half the memory of float32, and exact in it (``cluster`` widens a block of rows at a time)."""
        self._flush()
        if not self._blocks:
            return np.zeros((0, DIM), np.float16)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]


def collect_faces(documents: Iterable[tuple[str, bytes | None]], model: str = EMBEDDING_MODEL) -> FaceTable:
    """Stream ``(photo key, result body)`` pairs (``stats.read_documents``) into a :class:`FaceTable`."""
    table = FaceTable(model=model)
    for key, body in documents:
        if body is not None:
            table.add_raw(key, body)
    return table


_INDEX_ROWS = "FROM faces WHERE status = 'ok' AND face IS NOT NULL"
_INDEX_COLUMNS = ("key, source_etag, engine, face, can_seed, figure, age, gender, gender_confidence, box_left, box_top, "
                  "box_width, box_height, quality, embedding_model, embedding, identified, forgotten")  # fmt: skip
SEED, USABLE, IDENTIFIED, MARKED, OTHER_MODEL = 1, 2, 4, 8, 16


@dataclass
class _IndexRows:
    """The index's face rows in the order DuckDB streams them (the parts' order), compactly: a photo's rows come
    together, so its key, ETag and engine are kept once per run of rows; each vector goes straight into its row of
    one preallocated float16 matrix."""

    vectors: NDArray[np.float16]
    keys: list[str] = field(default_factory=list)
    etags: list[str] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    run: array[int] = field(default_factory=lambda: array("i"))
    face: array[int] = field(default_factory=lambda: array("i"))
    flags: array[int] = field(default_factory=lambda: array("b"))
    """Bits ``SEED | USABLE | IDENTIFIED | MARKED | OTHER_MODEL``."""
    figure: list[str | None] = field(default_factory=list)
    age: array[float] = field(default_factory=lambda: array("d"))
    gender: list[str] = field(default_factory=list)
    gender_confidence: array[float] = field(default_factory=lambda: array("d"))
    quality: array[float] = field(default_factory=lambda: array("d"))
    boxes: array[int] = field(default_factory=lambda: array("q"))

    def add(self, rows: list[tuple[Any, ...]], model: str) -> None:
        if len(self.face) + len(rows) > len(self.vectors):  # more rows than counted (the index grew meanwhile)
            grown = np.zeros((len(self.face) + len(rows), DIM), np.float16)
            grown[: len(self.vectors)] = self.vectors
            self.vectors = grown
        usable: list[int] = []
        blobs: list[bytes] = []
        for (key, etag, engine, face, seed, figure, age, gender, confidence, left, top, width, height, quality,
             emb_model, vector, identified, forgotten) in rows:  # fmt: skip
            if not self.keys or key != self.keys[-1]:
                self.keys.append(key)
                self.etags.append(str(etag or ""))
                self.engines.append(sys.intern(str(engine or "/")))
            good = vector is not None and emb_model == model and len(vector) == 2 * DIM
            if good:
                usable.append(len(self.face))
                blobs.append(vector)
            self.run.append(len(self.keys) - 1)
            self.face.append(int(face))
            self.flags.append(SEED * bool(seed) | USABLE * good | IDENTIFIED * bool(identified)
                              | MARKED * bool(forgotten) | OTHER_MODEL * (emb_model is not None and not good))  # fmt: skip
            self.figure.append(figure if isinstance(figure, str) and figure not in RESERVED_FIGURES else None)
            self.age.append(float(age) if age is not None else math.nan)
            self.gender.append(gender_of(gender))
            self.gender_confidence.append(float(confidence or 1.0))
            self.quality.append(float(quality or 0.0))
            self.boxes.extend((int(left or 0), int(top or 0), int(width or 0), int(height or 0)))
        if blobs:
            self.vectors[usable] = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(-1, DIM)

    def table(self, model: str, documents: int) -> FaceTable:
        """The rows as a :class:`FaceTable`, photos in key order (what ``ORDER BY key, face`` gave, without DuckDB
        sorting every embedding): keys ranked in Python (code point order, which is DuckDB's byte order of UTF-8),
        rows ordered by (rank, face) in numpy, the matrix gathered once in that order (no copy when it already is)."""
        table = FaceTable(model=model, documents=documents)
        rank = np.empty(len(self.keys), np.int64)
        previous: str | None = None
        photo = -1
        for run in sorted(range(len(self.keys)), key=self.keys.__getitem__):
            photo += self.keys[run] != previous  # a key in two runs (its rows apart) gets one rank
            rank[run], previous = photo, self.keys[run]
        rows = np.lexsort((np.frombuffer(self.face, np.int32), rank[np.frombuffer(self.run, np.int32)])).tolist()
        del rank
        kept = array("q")
        start = 0
        while start < len(rows):
            key = self.keys[self.run[rows[start]]]
            end = start + 1
            while end < len(rows) and self.keys[self.run[rows[end]]] == key:
                end += 1
            self._photo(table, key, rows[start:end], kept)
            start = end
        table.other_model = sum(1 for flags in self.flags if flags & OTHER_MODEL and not flags & MARKED)
        wanted = np.frombuffer(kept, np.int64)
        in_order = len(wanted) == len(self.vectors) and bool((wanted == np.arange(len(wanted))).all())
        table._blocks = [self.vectors if in_order else self.vectors[wanted]]
        self.vectors = np.zeros((0, DIM), np.float16)
        return table

    def _photo(self, table: FaceTable, key: str, rows: list[int], kept: array[int]) -> None:
        """One photo's rows, in face order: its :class:`PhotoFaces`, and its usable faces into the table."""
        box, run = self.boxes, self.run[rows[0]]
        info = PhotoFaces(self.etags[run], self.engines[run],
                          tuple((box[4 * r], box[4 * r + 1], box[4 * r + 2], box[4 * r + 3]) for r in rows),
                          frozenset(self.face[r] for r in rows if self.flags[r] & IDENTIFIED) or NONE,
                          frozenset(self.face[r] for r in rows if self.flags[r] & MARKED) or NONE)  # fmt: skip
        table.photos[key] = info
        photo = -1
        for r in rows:
            flags, face = self.flags[r], self.face[r]
            if face in info.marked or not (flags & USABLE or self.figure[r] is not None):
                continue
            if photo < 0:
                photo = len(table.keys)
                table.keys.append(key)
            table.append(photo, face, bool(flags & SEED and flags & USABLE), self.figure[r], self.age[r],
                         self.gender[r], self.gender_confidence[r], self.quality[r], bool(flags & USABLE))  # fmt: skip
            kept.append(r)


def faces_from_index(con: Any, model: str = EMBEDDING_MODEL, batch: int = 16_384) -> FaceTable:
    """The same table from the face index (``ossfaces_tools.index``): its ``faces`` view, every face of every photo
    with faces (for ``photos``), the usable ones into the columns; embeddings come as one float16 matrix, never as
    Python objects. Streamed in the parts' order, with no ``ORDER BY``: DuckDB would sort every row with its
    embedding (1 GB at a million faces); photos are put in key order (OSS's order) afterwards."""
    (documents,) = con.execute("SELECT count(*) FROM photos").fetchone()
    (count,) = con.execute(f"SELECT count(*) {_INDEX_ROWS}").fetchone()
    rows = _IndexRows(np.zeros((count, DIM), np.float16))
    result = con.execute(f"SELECT {_INDEX_COLUMNS} {_INDEX_ROWS}")
    while batch_rows := result.fetchmany(batch):
        rows.add(batch_rows, model)
    return rows.table(model, documents)


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
