"""People from faces: the update of the people file from the faces of a prefix, user edits, and per-person figures.

Pure: a :class:`~.state.PeopleState` and a :class:`~.faces.FaceTable` in, a changed state out. Reading OSS and saving
the file is :mod:`.service`'s job.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

from ossfaces.forgotten import Box, iou
from ossfaces_tools.people.cluster import UNASSIGNED, ClusterParams, cluster
from ossfaces_tools.people.faces import FaceRef, FaceTable, PhotoFaces
from ossfaces_tools.people.state import PeopleState, PhotoEntry

LEAVE = -2  # a face clustering must not touch (forgotten, or placed by IMM v2's FigureClusterId)
NOBODY = 0  # in ``old_pid``: the face had no person (person ids start at 1)
SAME_FACE = 0.5
"""Intersection over union from which a face of a re-analysis is the same face as before (PASCAL VOC's rule for
"the same object"); matched one to one, largest overlaps first."""


@dataclass
class UpdateReport:
    faces: int = 0
    embedded: int = 0
    figure_faces: int = 0
    assigned_before: int = 0
    joined: int = 0
    """Faces that had no person and now have one."""
    new_people: int = 0
    unassigned: int = 0
    people: int = 0
    named_kept: int = 0
    reanalysed: int = 0
    """Photos analysed again (another engine version) whose faces were matched to the faces known before."""
    forgotten: int = 0
    """Faces that stand where a forgotten face stood: left out."""
    lingering: list[FaceRef] = field(default_factory=list)
    """Forgotten faces whose result still holds an identity or lacks the mark: the service strips them."""
    changed: bool = False
    generation: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        out = {k: v for k, v in self.__dict__.items() if k != "lingering"}
        out["lingering"] = len(self.lingering)
        return out


def update(state: PeopleState, table: FaceTable, params: ClusterParams, *, rebuild: bool = False) -> UpdateReport:
    """Bring ``state`` up to date with ``table`` (in place). Faces with a person keep it, through a re-analysis too;
    ``rebuild`` re-clusters all faces but the pinned ones and gives the new clusters the ids (and names) of the old
    people they overlap most. Forgotten faces are never clustered."""
    before = state.digest()
    report = UpdateReport(faces=len(table), embedded=sum(table.has_embedding))
    state.photos = photos = carry_over(state, table, report)  # the old entries go now, not after the clustering
    active = sorted(pid for pid, person in state.people.items() if person.merged_into is None)
    labels, old_pid = starting_labels(photos, table, active, rebuild, report)
    labels, total = cluster(table.embeddings(), np.asarray(table.can_seed, dtype=bool), labels, len(active), params)
    new_ids, report.new_people = _name_new_people(state, labels, len(active), total, old_pid, rebuild)
    place(state, photos, table, labels, {**dict(enumerate(active)), **new_ids})
    report.joined = int(((old_pid == NOBODY) & (labels >= 0)).sum())
    report.unassigned = int((labels == UNASSIGNED).sum())
    _drop_empty_unnamed(state)
    report.people = sum(1 for p in state.people.values() if p.merged_into is None)
    report.named_kept = sum(1 for p in state.people.values() if p.name is not None and p.merged_into is None)
    report.changed = state.digest() != before
    return report


def carry_over(state: PeopleState, table: FaceTable, report: UpdateReport) -> dict[str, PhotoEntry]:
    """Each photo's entry for this run: a photo version (key and ETag) already known keeps its faces' people and pins
    through a re-analysis (faces matched by position); where a forgotten face stood stays forgotten, whatever ETag.
    A photo whose result is gone keeps only its forgotten positions."""
    photos: dict[str, PhotoEntry] = {}
    for key, info in table.photos.items():
        old = state.photos.get(key)
        entry = PhotoEntry(info.etag, info.engine, info.boxes, [None] * len(info.boxes))
        entry.forgotten = tuple(dict.fromkeys([*(old.forgotten if old else ()), *(info.boxes[i] for i in info.marked)]))
        if old is not None and old.etag == info.etag:
            report.reanalysed += old.engine != info.engine
            _keep_people(state, old, entry)
        _leave_forgotten(FaceRef(key, 0), entry, info, report)
        photos[key] = _written_into(old, entry) if old is not None else entry
    for key, old in state.photos.items():
        if key not in photos and old.forgotten:
            photos[key] = PhotoEntry(old.etag, old.engine, (), [], forgotten=old.forgotten)
    return photos


def _written_into(old: PhotoEntry, entry: PhotoEntry) -> PhotoEntry:
    """``entry`` in ``old``'s object: the entries read from the file are let go anyway, and a million new ones made
    beside a million old ones stay in the heap through the clustering (200 MB at a million photos)."""
    for name in fields(PhotoEntry):
        setattr(old, name.name, getattr(entry, name.name))
    return old


def _keep_people(state: PeopleState, old: PhotoEntry, entry: PhotoEntry) -> None:
    """The faces of ``entry`` found again in ``old`` (same photo version) take over their person, pin and forget."""
    pairs = _same_faces(old, entry.boxes, entry.engine)
    entry.forgotten += tuple(entry.boxes[new] for new, was in pairs.items() if was in old.legacy_forgotten)
    for new, was in pairs.items():
        pid = old.faces[was]
        entry.faces[new] = state.resolve(pid) if pid is not None and state.resolve(pid) in state.people else None
        if was in old.pinned:
            entry.pinned += (new,)


def _leave_forgotten(photo: FaceRef, entry: PhotoEntry, info: PhotoFaces, report: UpdateReport) -> None:
    """Faces standing where a forgotten face stood belong to nobody; those whose result still identifies them (or
    does not mark them) are reported, to be stripped again."""
    for i in range(len(entry.faces)):
        if entry.is_forgotten(i):
            entry.faces[i] = None
            entry.pinned = tuple(p for p in entry.pinned if p != i)
            report.forgotten += 1
            if i in info.identified or i not in info.marked:
                report.lingering.append(FaceRef(photo.key, i))


def _same_faces(old: PhotoEntry, boxes: tuple[Box, ...], engine: str) -> dict[int, int]:
    """New face index → old face index for the faces of one photo version seen by two analyses."""
    if old.engine == engine and (list(old.boxes) == list(boxes) or (not old.boxes and len(old.faces) == len(boxes))):
        return {i: i for i in range(len(boxes))}  # the same analysis (or format 1's, whose boxes were not kept)
    overlaps = sorted(
        ((iou(new, was), n, w) for n, new in enumerate(boxes) for w, was in enumerate(old.boxes)), reverse=True
    )
    pairs: dict[int, int] = {}
    for overlap, n, w in overlaps:
        if overlap < SAME_FACE:
            break
        if n not in pairs and w not in pairs.values():
            pairs[n] = w
    return pairs


def starting_labels(
    photos: dict[str, PhotoEntry], table: FaceTable, active: list[int], rebuild: bool, report: UpdateReport
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """What clustering starts from: each face's person index (kept), ``UNASSIGNED`` (to place), or ``LEAVE``; and
    each face's person before this run (``NOBODY`` for none: an array, a dict of a million rows is 100 MB)."""
    index_of = {pid: i for i, pid in enumerate(active)}
    labels: NDArray[np.int64] = np.full(len(table), UNASSIGNED, np.int64)
    old_pid: NDArray[np.int64] = np.full(len(table), NOBODY, np.int64)
    for row in range(len(table)):
        entry = photos[table.keys[table.photo[row]]]
        face = table.index[row]
        pid = entry.faces[face]
        if pid is not None:
            old_pid[row] = pid
        if entry.is_forgotten(face):
            labels[row] = LEAVE
        elif not table.has_embedding[row]:
            labels[row] = LEAVE
            report.figure_faces += 1
        elif pid is not None and pid in index_of and (not rebuild or face in entry.pinned):
            labels[row] = index_of[pid]
    report.assigned_before = int((old_pid != NOBODY).sum())
    return labels, old_pid


def place(
    state: PeopleState,
    photos: dict[str, PhotoEntry],
    table: FaceTable,
    labels: NDArray[np.int64],
    pid_of: dict[int, int],
) -> None:
    """Write each face's person back into its photo's entry (IMM v2's figures for the faces it clustered)."""
    for row in range(len(table)):
        entry = photos[table.keys[table.photo[row]]]
        face = table.index[row]
        if labels[row] >= 0:
            entry.faces[face] = pid_of[int(labels[row])]
        elif labels[row] == UNASSIGNED:
            entry.faces[face] = None
        elif table.figure[row] is not None and not entry.is_forgotten(face) and face not in entry.pinned:
            entry.faces[face] = _figure_person(state, table.figure[row])  # type: ignore[arg-type]


def _name_new_people(
    state: PeopleState, labels: NDArray[np.int64], first: int, total: int, old_pid: NDArray[np.int64], rebuild: bool
) -> tuple[dict[int, int], int]:
    """Ids for the people the clustering found (indices ``first..total-1``): on a rebuild, the old person each overlaps
    most (one-to-one, largest overlaps first); otherwise, and for the rest, new ids in the order they were found."""
    out: dict[int, int] = {}
    if rebuild and total > first:
        overlap: Counter[tuple[int, int]] = Counter()
        for label, old in zip(labels.tolist(), old_pid.tolist(), strict=True):
            if label >= first and old != NOBODY:
                overlap[(label, old)] += 1
        used_old: set[int] = set()
        for (label, old), _ in sorted(overlap.items(), key=lambda item: (-item[1], item[0])):
            if label in out or old in used_old or old not in state.people:
                continue
            out[label] = old
            used_old.add(old)
    created = 0
    for label in range(first, total):
        if label not in out:
            out[label] = state.new_person()
            created += 1
    return out, created


def _figure_person(state: PeopleState, figure: str) -> int:
    if figure not in state.figures:
        state.figures[figure] = state.new_person()
    return state.resolve(state.figures[figure])


def _drop_empty_unnamed(state: PeopleState) -> None:
    """People left without faces go, unless named (a name is kept through every re-cluster) or merged (a redirect)."""
    used = {p for entry in state.photos.values() for p in entry.faces if p is not None}
    for pid in [pid for pid, person in state.people.items() if pid not in used]:
        person = state.people[pid]
        if person.name is None and person.merged_into is None and pid not in state.figures.values():
            del state.people[pid]


# --------------------------------------------------------------------------------------------------- user edits


class EditError(ValueError):
    """An edit that cannot be done as asked (unknown id, face not in that person…); the message says why."""


def _person(state: PeopleState, pid: int) -> int:
    resolved = state.resolve(pid)
    if resolved not in state.people:
        raise EditError(f"no person {pid} in the people file")
    return resolved


def name(state: PeopleState, pid: int, new_name: str | None) -> int:
    target = _person(state, pid)
    state.people[target].name = new_name or None
    return target


def hide(state: PeopleState, pid: int, hidden: bool = True) -> int:
    target = _person(state, pid)
    state.people[target].hidden = hidden
    return target


def merge(state: PeopleState, sources: list[int], into: int) -> int:
    """Every face of ``sources`` moves to ``into`` (pinned there); the source ids point to ``into`` from now on."""
    target = _person(state, into)
    for pid in sources:
        source = _person(state, pid)
        if source == target:
            continue
        for entry in state.photos.values():
            for i, p in enumerate(entry.faces):
                if p == source:
                    entry.faces[i] = target
                    entry.pinned += (i,)
        for figure, p in state.figures.items():
            if p == source:
                state.figures[figure] = target
        person = state.people[source]
        person.merged_into = target
        if state.people[target].name is None and person.name is not None:
            state.people[target].name = person.name
        person.name = None
    return target


def split(state: PeopleState, pid: int, faces: list[FaceRef]) -> int:
    """Move ``faces`` (each of person ``pid``) to a new person, pinned there; return the new id."""
    source = _person(state, pid)
    for ref in faces:
        entry = state.photos.get(ref.key)
        if entry is None or ref.index >= len(entry.faces) or entry.faces[ref.index] != source:
            raise EditError(f"face {ref} is not a face of person {pid}")
    target = state.new_person()
    for ref in faces:
        entry = state.photos[ref.key]
        entry.faces[ref.index] = target
        entry.pinned += (ref.index,)
    return target


def faces_in_photo(state: PeopleState, pid: int, key: str) -> list[FaceRef]:
    source = _person(state, pid)
    entry = state.photos.get(key)
    found = [FaceRef(key, i) for i, p in enumerate(entry.faces) if p == source] if entry else []
    if not found:
        raise EditError(f"person {pid} has no face in {key}")
    return found


def forget(state: PeopleState, pid: int) -> list[FaceRef]:
    """Remove a person (and its name) for good: where its faces stand is recorded as forgotten (never clustered
    again, whatever analyses the photo next) and their photos as pending a strip of their results. Returns the
    faces. The caller saves this intent before it strips anything (``service.forget_person``)."""
    target = _person(state, pid)
    if state.legacy:
        raise EditError("the people file is of the first format: run `ossfaces people BUCKET` once, then forget")
    faces: list[FaceRef] = []
    for key, entry in state.photos.items():
        for i, p in enumerate(entry.faces):
            if p == target:
                entry.faces[i] = None
                entry.forgotten += (entry.boxes[i],)
                entry.pinned = tuple(x for x in entry.pinned if x != i)
                faces.append(FaceRef(key, i))
    for other in [p for p, person in state.people.items() if person.merged_into == target or p == target]:
        del state.people[other]
        state.forgotten_people.append(other)
    state.figures = {f: p for f, p in state.figures.items() if p != target}
    state.forget_pending = sorted({*state.forget_pending, *(ref.key for ref in faces)})
    return faces


def was_forgotten(state: PeopleState, pid: int) -> bool:
    return pid in state.forgotten_people and pid not in state.people


# --------------------------------------------------------------------------------------------------- per person


@dataclass
class PersonSummary:
    pid: int
    name: str | None
    hidden: bool
    rows: list[int] = field(default_factory=list)
    photos: int = 0
    age_median: float | None = None
    age_min: float | None = None
    age_max: float | None = None
    gender: str | None = None
    gender_share: float = 0.0

    @property
    def faces(self) -> int:
        return len(self.rows)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.pid, "name": self.name, "hidden": self.hidden, "faces": self.faces, "photos": self.photos,
                "age_median": self.age_median, "age_min": self.age_min, "age_max": self.age_max,
                "gender": self.gender, "gender_share": round(self.gender_share, 3)}  # fmt: skip


def summaries(state: PeopleState, table: FaceTable) -> list[PersonSummary]:
    """One summary per person with faces (named people without faces too); named first, then by size."""
    by_pid: dict[int, PersonSummary] = {}
    for pid, person in state.people.items():
        if person.merged_into is None:
            by_pid[pid] = PersonSummary(pid, person.name, person.hidden)
    for row in range(len(table)):
        entry = state.photos.get(table.keys[table.photo[row]])
        owner = entry.faces[table.index[row]] if entry and table.index[row] < len(entry.faces) else None
        if owner is not None and owner in by_pid:
            by_pid[owner].rows.append(row)
    for summary in by_pid.values():
        ages = [table.age[r] for r in summary.rows if not math.isnan(table.age[r])]
        if ages:
            summary.age_median = float(np.median(ages))
            summary.age_min, summary.age_max = float(min(ages)), float(max(ages))
        votes: Counter[str] = Counter()
        for r in summary.rows:
            if table.gender[r]:
                votes[table.gender[r]] += table.gender_confidence[r]  # type: ignore[assignment]
        if votes:
            gender, weight = votes.most_common(1)[0]
            summary.gender = gender
            summary.gender_share = weight / sum(votes.values())
        summary.photos = len({table.photo[r] for r in summary.rows})
    out = [s for s in by_pid.values() if s.rows or s.name is not None]
    return sorted(out, key=lambda s: (s.name is None, -s.faces, s.pid))
