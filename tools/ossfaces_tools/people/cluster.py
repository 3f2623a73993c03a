"""Incremental, density-based clustering of face embeddings into people (immich's DBSCAN-derived scheme).

For each face without a person, in a stable order, block by block:

1. **join**: if the nearest person (cosine similarity to the normalised mean of its faces) is within ``max_distance``,
   the face joins that person. Faces that already have a person never move (ids and manual edits are stable);
2. **found**: otherwise the face waits in a pool, where its neighbours (other waiting faces within ``max_distance``) are
   kept. A waiting face that may seed (``CanSeed``: IMM v2's rule, large, frontal, sharp) and has at least
   ``min_faces`` seeding faces within reach (itself included) is a core; a new person is made of everything
   density-reachable from it through cores (DBSCAN's expansion). Faces that cannot seed may join but never found;
3. at the end, faces still waiting join the people made after they were seen, pass after pass until nobody joins
   (each face that joins moves its person's centre, which may bring another within reach).

Deterministic: the same faces in the same order give the same people, so a second run on unchanged results changes
nothing. Cost: each block is compared with the people found so far and with the waiting pool, so it grows with
faces × people (not faces²); see ``benchmarks/bench_people.py``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_MAX_DISTANCE = 0.5
"""Cosine distance (1 - similarity) within which faces are "similar". immich's default for its model is the same;
for SFace, OpenCV publishes 0.363 similarity (distance 0.637) as its LFW verification threshold. Clustering chains
pairs, so it needs a stricter value than one-to-one verification: on the real test photos the most similar two
different people are at similarity 0.48 (distance 0.52)."""
DEFAULT_MIN_FACES = 3
"""Seeding faces needed to found a person: immich's ``minFaces`` and IMM v2's "at least 3 faces" rule."""
UNASSIGNED = -1
ROWS = 512  # rows of a similarity matrix computed at once (512 × 20,000 waiting faces: 40 MB) ...
SIMILARITY_BYTES = 40 * 2**20  # ... and fewer when more faces wait (77,000 at a million faces: 158 MB at 512 rows)


@dataclass(frozen=True)
class ClusterParams:
    max_distance: float = DEFAULT_MAX_DISTANCE
    min_faces: int = DEFAULT_MIN_FACES
    block: int = 4096

    @property
    def min_similarity(self) -> float:
        return 1.0 - self.max_distance


def _normalised(rows: NDArray[np.float64]) -> NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: NDArray[np.float32] = (rows / norms).astype(np.float32)
    return out


def cluster(
    embeddings: NDArray[np.float16] | NDArray[np.float32],
    can_seed: NDArray[np.bool_],
    labels: NDArray[np.int64],
    people: int,
    params: ClusterParams | None = None,
) -> tuple[NDArray[np.int64], int]:
    """Give faces labelled ``UNASSIGNED`` a person where the rules allow; return the labels and the new person count.

    ``labels[i]`` is a person index in ``[0, people)`` for faces that already have one, ``UNASSIGNED`` for faces to
    place, anything below (e.g. -2) for faces to leave alone (forgotten, or placed by IMM v2). New people get indices
    ``people, people + 1, …`` in the order they are found.

    ``embeddings`` may be float16 (as stored; half the memory at a million faces): rows are widened to float32 a
    block at a time, exactly, so the people are the same as from a float32 copy of the matrix.
    """
    params = params or ClusterParams()
    labels = labels.copy()
    threshold = params.min_similarity
    dim = embeddings.shape[1]
    sums: NDArray[np.float64] = np.zeros((max(people, 16), dim), np.float64)
    counts: NDArray[np.int64] = np.zeros(max(people, 16), np.int64)

    def vectors(rows: NDArray[np.int64] | list[int]) -> NDArray[np.float32]:
        return embeddings[rows].astype(np.float32, copy=False)

    placed = np.flatnonzero(labels >= 0)
    for first in range(0, len(placed), 65536):  # in blocks: a float32 copy of every placed face is 0.5 GB at 1 M
        chunk = placed[first : first + 65536]
        np.add.at(sums, labels[chunk], vectors(chunk))
    np.add.at(counts, labels[placed], 1)

    def grow(total: int) -> None:
        nonlocal sums, counts
        if total > len(counts):
            size = max(total, 2 * len(counts))
            sums = np.vstack([sums, np.zeros((size - len(sums), dim))])
            counts = np.concatenate([counts, np.zeros(size - len(counts), np.int64)])

    def join(rows: NDArray[np.int64], among: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
        """Place ``rows`` with the nearest person within reach (of ``among``, else of all); return the rows left
        waiting."""
        if people == 0 or len(rows) == 0:
            return rows
        persons_in_reach = np.arange(people) if among is None else among
        centroids = _normalised(sums[:people] if among is None else sums[among])  # a view of all: no copy per block
        best = np.empty(len(rows), np.int64)
        close = np.empty(len(rows), bool)
        for first in range(0, len(rows), ROWS):
            similarity = vectors(rows[first : first + ROWS]) @ centroids.T
            best[first : first + ROWS] = persons_in_reach[similarity.argmax(axis=1)]
            close[first : first + ROWS] = similarity.max(axis=1) >= threshold
        chosen, persons = rows[close], best[close]
        labels[chosen] = persons
        np.add.at(sums, persons, vectors(chosen))
        np.add.at(counts, persons, 1)
        left: NDArray[np.int64] = rows[~close]
        return left

    pool: list[int] = []  # waiting faces, in arrival order
    neighbours: dict[int, list[int]] = {}

    def core(face: int, person: int) -> bool:
        """A seeding face with enough seeding faces within reach that are free (or already in ``person``)."""
        if not can_seed[face]:
            return False
        free = sum(1 for n in neighbours[face] if can_seed[n] and labels[n] in (UNASSIGNED, person))
        return 1 + free >= params.min_faces

    def found(start: int) -> None:
        nonlocal people
        person = people
        people += 1
        grow(people)
        labels[start] = person
        members = [start]
        queue = deque([start])
        while queue:
            face = queue.popleft()
            if not core(face, person):
                continue  # a border face: belongs, does not extend
            for n in neighbours[face]:
                if labels[n] == UNASSIGNED:
                    labels[n] = person
                    members.append(n)
                    queue.append(n)
        sums[person] += vectors(members).sum(axis=0)
        counts[person] += len(members)
        for face in members:  # placed for good: its neighbours are never looked at again
            del neighbours[face]

    todo = np.flatnonzero(labels == UNASSIGNED)
    for start in range(0, len(todo), params.block):
        waiting = join(todo[start : start + params.block]).tolist()
        if not waiting:
            continue
        pool = [f for f in pool if labels[f] == UNASSIGNED]
        candidates = np.asarray(pool + waiting, dtype=np.int64)
        pool_vectors = vectors(candidates)
        at_once = max(64, min(ROWS, SIMILARITY_BYTES // (4 * len(candidates))))
        for first in range(0, len(waiting), at_once):  # a few rows at a time: the similarity matrix stays small
            rows = waiting[first : first + at_once]
            similarity = vectors(rows) @ pool_vectors.T
            for row, face in enumerate(rows):  # row by row: a boolean matrix beside it would be 40 MB more at 1 M
                neighbours[face] = [n for n in candidates[similarity[row] >= threshold].tolist() if n != face]
                for n in neighbours[face]:
                    if n in neighbours and face not in neighbours[n]:  # an earlier face: the relation goes both ways
                        neighbours[n].append(face)
        del pool_vectors, similarity
        pool.extend(waiting)
        arrived = set(waiting)
        touched = sorted({n for face in waiting for n in neighbours[face] if n not in arrived})
        for face in [*waiting, *touched]:
            if labels[face] == UNASSIGNED and core(face, UNASSIGNED):
                found(face)
    # Step 3. After the first pass only the people who gained faces can have come within reach of a waiting face (the
    # others were out of its reach and have not moved), so each further pass compares with those alone.
    waiting_at_end = np.asarray([f for f in pool if labels[f] == UNASSIGNED], dtype=np.int64)
    moved: NDArray[np.int64] | None = None
    while len(waiting_at_end) and (moved is None or len(moved)):
        before = counts[:people].copy()
        waiting_at_end = join(waiting_at_end, moved)
        moved = np.flatnonzero(counts[:people] != before)
    return labels, people
