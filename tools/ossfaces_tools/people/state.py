"""The people file: ``<prefix>/.ossfaces/people.json`` in the user's bucket, beside the photos.

It holds who is who (ids, names, hidden, merges), which face of which photo belongs to whom, where each face is (its
box, to find it again after a re-analysis), the faces that were forgotten (by position), and the settings the
clustering ran with. No embedding is stored in it: those stay in the result documents.

**No lost update between two runs.** OSS has no compare-and-swap on an object, but it has create-if-absent
(``x-oss-forbid-overwrite: true``, 409 when the key exists). Every save is generation ``N + 1`` of the generation
``N`` it was computed from: it is first created as ``.ossfaces/people.generations/<N+1>.json`` with
``x-oss-forbid-overwrite`` (the one step that can fail, and exactly one of two racing runs wins it), then copied to
``people.json`` and older generations are deleted. A reader takes ``people.json`` unless a newer generation exists
(a run stopped between the two writes): then the newest generation wins, so nothing acknowledged is ever lost.

**A file that cannot be read** (not JSON, another format, an id that names nobody, a hand edit gone wrong) stops
every command with one line naming it and the way out (:class:`PeopleFileError`); ``--discard-unreadable`` moves
it aside to ``.ossfaces/unreadable/`` and goes on from the newest readable copy, or from nothing. A file in
``people.generations/`` whose name is not a generation number is not this tool's and is left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import oss2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, conlist

from ossfaces.embedding import EMBEDDING_MODEL
from ossfaces.forgotten import Box, stands_at
from ossfaces_tools.access import ToolError
from ossfaces_tools.people.cluster import DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES
from ossfaces_tools.people.jsonwalk import decode_value, skip_space, walk_object

FORMAT = "ossfaces-people/2"
FORMAT_1 = "ossfaces-people/1"
"""The first format (photos keyed on ``ETag|engine``, forgotten faces by index): read, and written back as 2."""
GENERATION_NAME = re.compile(r"^\d{12}\.json$")


class PeopleConflict(Exception):
    """Another run saved the people file after this one read it; nothing of this run was written."""


class PeopleFileError(ToolError):
    """The people file (or one of its generations) cannot be read; the message names it and the way out."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------- the wire


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _PersonWire(_Wire):
    Name: str | None = None
    Hidden: bool = False
    MergedInto: int | None = Field(None, ge=1)
    Created: str = ""


_BoxWire = conlist(int, min_length=4, max_length=4)


class _PhotoWire(_Wire):
    Faces: list[int | None]
    ETag: str = ""
    Engine: str = ""
    Boxes: list[_BoxWire] = Field(default_factory=list)  # type: ignore[valid-type]
    Pinned: list[int] = Field(default_factory=list)
    Forgotten: list[_BoxWire | int] = Field(default_factory=list)  # type: ignore[valid-type]
    Version: str = ""  # format 1: "ETag|engine"


class _SettingsWire(_Wire):
    MaxDistance: float = Field(DEFAULT_MAX_DISTANCE, gt=0, le=2)
    MinFaces: int = Field(DEFAULT_MIN_FACES, ge=1)
    Model: str = EMBEDDING_MODEL


class _FileWire(_Wire):
    Format: str
    Generation: int = Field(ge=0)
    NextId: int = Field(ge=1)
    Settings: _SettingsWire = Field(default_factory=_SettingsWire)
    People: dict[str, _PersonWire] = Field(default_factory=dict)
    Photos: dict[str, _PhotoWire] = Field(default_factory=dict)
    Figures: dict[str, int] = Field(default_factory=dict)
    ForgottenPeople: list[int] = Field(default_factory=list)
    ForgetPending: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------------- the state


@dataclass
class Person:
    name: str | None = None
    hidden: bool = False
    merged_into: int | None = None
    """Set when merged into another person: the id keeps pointing somewhere, it is never given again."""
    created: str = field(default_factory=now)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Created": self.created}
        if self.name is not None:
            out["Name"] = self.name
        if self.hidden:
            out["Hidden"] = True
        if self.merged_into is not None:
            out["MergedInto"] = self.merged_into
        return out


@dataclass(slots=True)
class PhotoEntry:
    """One photo version (its ETag) as last analysed: ``faces[i]`` is the person of face ``i`` (None: nobody yet),
    ``boxes[i]`` where that face is, so that a re-analysis by another engine version finds it again.

    The rarely filled fields are tuples: an empty one is shared, where three empty lists per photo cost 170 MB at a
    million photos."""

    etag: str
    engine: str
    boxes: tuple[Box, ...]
    faces: list[int | None]
    pinned: tuple[int, ...] = ()
    """Faces a user placed (merge, split): a re-cluster from scratch keeps them where they are."""
    forgotten: tuple[Box, ...] = ()
    """Where the faces of forgotten people stood: a face there is never clustered again, whatever analysed it."""
    legacy_forgotten: tuple[int, ...] = ()
    """Format 1's forgotten faces (indices), turned into boxes by the next update that sees the same analysis."""

    def is_forgotten(self, index: int) -> bool:
        return index < len(self.boxes) and stands_at(self.boxes[index], self.forgotten)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ETag": self.etag, "Engine": self.engine, "Boxes": [list(b) for b in self.boxes],
                               "Faces": self.faces}  # fmt: skip
        if self.pinned:
            out["Pinned"] = sorted(set(self.pinned))
        if self.forgotten or self.legacy_forgotten:
            out["Forgotten"] = [list(b) for b in dict.fromkeys(self.forgotten)] + sorted(set(self.legacy_forgotten))
        return out


@dataclass
class PeopleState:
    generation: int = 0
    next_id: int = 1
    max_distance: float = DEFAULT_MAX_DISTANCE
    min_faces: int = DEFAULT_MIN_FACES
    model: str = EMBEDDING_MODEL
    people: dict[int, Person] = field(default_factory=dict)
    photos: dict[str, PhotoEntry] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)
    """IMM v2 ``FigureClusterId`` → person: IMM's own clustering, used where that engine ran."""
    forgotten_people: list[int] = field(default_factory=list)
    """Ids of forgotten people (nothing else about them): ``forget`` of one again finishes and checks, never fails."""
    forget_pending: list[str] = field(default_factory=list)
    """Photos whose results may still hold an identity of a forgotten face: recorded before they are stripped,
    cleared once they all are (a forget cut short is finished by the next ``forget`` or ``people`` run)."""
    legacy: bool = False
    """Read from format 1: photo boxes unknown until the next update."""

    def new_person(self, **fields: Any) -> int:
        pid = self.next_id
        self.next_id += 1
        self.people[pid] = Person(**fields)
        return pid

    def resolve(self, pid: int) -> int:
        """The person an id stands for now (following merges)."""
        seen = set()
        while pid in self.people and self.people[pid].merged_into is not None and pid not in seen:
            seen.add(pid)
            pid = self.people[pid].merged_into  # type: ignore[assignment]
        return pid

    def faces_of(self, pid: int) -> list[tuple[str, int]]:
        return [(key, i) for key, entry in self.photos.items() for i, p in enumerate(entry.faces) if p == pid]

    def to_json(self, *, photos: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Format": FORMAT,
            "Generation": self.generation,
            "NextId": self.next_id,
            "Settings": {"MaxDistance": self.max_distance, "MinFaces": self.min_faces, "Model": self.model},
            "People": {str(pid): person.to_json() for pid, person in sorted(self.people.items())},
            "Photos": {key: entry.to_json() for key, entry in sorted(self.photos.items())} if photos else {},
            "Figures": dict(sorted(self.figures.items())),
        }
        if self.forgotten_people:
            out["ForgottenPeople"] = sorted(set(self.forgotten_people))
        if self.forget_pending:
            out["ForgetPending"] = sorted(set(self.forget_pending))
        return out

    def dumps(self) -> bytes:
        """The file's bytes: ``json.dumps(to_json())``, written one photo at a time (``to_json()`` of a million
        photos is half a gigabyte of dicts held at once)."""
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        body = io.BytesIO()
        body.write(b"{")
        for n, (name, value) in enumerate(self.to_json(photos=False).items()):  # "Photos" stands empty in its place
            body.write(f"{',' if n else ''}{encode(name)}:".encode())
            if name != "Photos":
                body.write(encode(value).encode())
                continue
            body.write(b"{")
            for i, key in enumerate(sorted(self.photos)):
                body.write(f"{',' if i else ''}{encode(key)}:{encode(self.photos[key].to_json())}".encode())
            body.write(b"}")
        body.write(b"}")
        return body.getvalue()

    def digest(self) -> str:
        """A digest of everything but the generation: what "changed" means (a digest, not a copy: a copy of a
        100,000-photo file held through an update costs more memory than the file's state itself)."""
        digest = hashlib.sha256()
        head = {k: v for k, v in self.to_json(photos=False).items() if k != "Generation"}
        parts = itertools.chain([head], ((key, self.photos[key].to_json()) for key in sorted(self.photos)))
        for part in parts:  # one photo at a time: ``(head, *photos)`` would hold every photo's JSON at once
            digest.update(json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        return digest.hexdigest()

    @classmethod
    def loads(cls, body: bytes) -> PeopleState:
        """Parse and check a people file; ValueError with the reason in a few words when it cannot be trusted.

        Photos are read one at a time (:mod:`.jsonwalk`), each checked and kept as a :class:`PhotoEntry` as soon as
        it is read: never a million photos as dicts at once (0.7 GB)."""
        head: dict[str, Any] = {}
        photos: dict[str, PhotoEntry] = {}
        where: tuple[str, ...] = ()

        def photo(key: str, at: int) -> int:
            nonlocal where
            value, end = decode_value(text, at)
            where = ("Photos", key)
            photos[key] = _photo(_PhotoWire.model_validate(value), head["Format"] == FORMAT_1)
            return end

        def member(name: str, at: int) -> int:
            if name == "Photos" and head.get("Format") in (FORMAT, FORMAT_1) and text[at : at + 1] == "{":
                photos.clear()  # a member given twice: the last one counts, as with json.loads
                head["Photos"] = {}
                return walk_object(text, at, photo)
            head[name], end = decode_value(text, at)
            return end

        try:
            try:
                text = body.decode("utf-8")
                start = skip_space(text, 0)
                if text[start : start + 1] != "{":
                    data = json.loads(text)
                elif (end := skip_space(text, walk_object(text, start, member))) != len(text):
                    raise json.JSONDecodeError("Extra data", text, end)
                else:
                    data = head
            except ValidationError:
                raise
            except (UnicodeDecodeError, ValueError) as exc:
                raise ValueError(f"not JSON ({exc})") from exc
            where = ()
            if not isinstance(data, dict):
                raise ValueError(f"not a people file (a JSON {type(data).__name__}, not an object)")
            if data.get("Format") not in (FORMAT, FORMAT_1):
                raise ValueError(f"not a people file of format {FORMAT} (Format is {data.get('Format')!r})")
            raw: dict[str, Any] = data["Photos"] if isinstance(data.get("Photos"), dict) else {}
            if raw:  # Photos came before Format (a hand edit): checked one at a time now
                data["Photos"] = {}
            wire = _FileWire.model_validate(data)
            for key in list(raw):
                where = ("Photos", key)
                photos[key] = _photo(_PhotoWire.model_validate(raw.pop(key)), wire.Format == FORMAT_1)
        except ValidationError as exc:
            error = exc.errors()[0]
            place = ".".join(str(part) for part in (*where, *error["loc"]))
            raise ValueError(f"{place}: {error['msg']}") from exc
        state = cls._from_wire(wire, photos)
        state.check()
        return state

    @classmethod
    def _from_wire(cls, wire: _FileWire, photos: dict[str, PhotoEntry]) -> PeopleState:
        people: dict[int, Person] = {}
        for key, p in wire.People.items():
            if not key.isdigit() or int(key) < 1:
                raise ValueError(f"People.{key}: a person id is a whole number from 1")
            people[int(key)] = Person(p.Name, p.Hidden, p.MergedInto, p.Created)
        settings = wire.Settings
        return cls(wire.Generation, wire.NextId, settings.MaxDistance, settings.MinFaces, settings.Model, people,
                   photos, dict(wire.Figures), list(wire.ForgottenPeople), list(wire.ForgetPending), wire.Format == FORMAT_1)  # fmt: skip

    def check(self) -> None:
        """Every id points at a person, every index into its photo: what a hand edit most often breaks."""
        known = set(self.people)
        if known and self.next_id <= max(known):
            raise ValueError(f"NextId {self.next_id} would give again the id {max(known)}")
        for pid, person in self.people.items():
            if person.merged_into is not None and person.merged_into not in known:
                raise ValueError(f"People.{pid}.MergedInto: no person {person.merged_into}")
            if self.resolve(pid) in self.people and self.people[self.resolve(pid)].merged_into is not None:
                raise ValueError(f"People.{pid}.MergedInto: the merges go round in a circle")
        for key, entry in self.photos.items():
            for face in entry.faces:
                if face is not None and face not in known:
                    raise ValueError(f"Photos.{key}.Faces: no person {face}")
            if not self.legacy and len(entry.boxes) != len(entry.faces):
                raise ValueError(f"Photos.{key}: {len(entry.boxes)} Boxes for {len(entry.faces)} Faces")
            if any(not 0 <= i < len(entry.faces) for i in entry.pinned):
                raise ValueError(f"Photos.{key}.Pinned: an index beyond its {len(entry.faces)} faces")
        for figure, pid in self.figures.items():
            if pid not in known:
                raise ValueError(f"Figures.{figure}: no person {pid}")


def _photo(wire: _PhotoWire, legacy: bool) -> PhotoEntry:
    etag, _, engine = wire.Version.partition("|") if legacy else (wire.ETag, "", wire.Engine)
    boxes = tuple(_box(b) for b in wire.Boxes)
    forgotten = tuple(_box(b) for b in wire.Forgotten if isinstance(b, list))
    indices = tuple(i for i in wire.Forgotten if isinstance(i, int))
    return PhotoEntry(etag, sys.intern(engine), boxes, list(wire.Faces), tuple(wire.Pinned), forgotten, indices)


def _box(values: list[int]) -> Box:
    left, top, width, height = values
    return (left, top, width, height)


def state_dir(prefix: str) -> str:
    """``<prefix>/.ossfaces/`` (``prefix`` as given to the command: a folder such as ``photos/``, or empty)."""
    base = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    return f"{base}.ossfaces/"


# --------------------------------------------------------------------------------------------------- the store


class StateStore:
    """Reads and conditionally writes the people file of ``prefix`` (see the module's note on generations)."""

    def __init__(self, bucket: oss2.Bucket, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.key = state_dir(prefix) + "people.json"
        self.generations = state_dir(prefix) + "people.generations/"
        self.unreadable = state_dir(prefix) + "unreadable/"
        self.set_aside: list[str] = []
        """What ``load(discard_unreadable=True)`` moved aside (keys under :attr:`unreadable`)."""

    def generation_key(self, generation: int) -> str:
        return f"{self.generations}{generation:012d}.json"

    def exists(self) -> bool:
        return bool(self.bucket.object_exists(self.key)) or bool(self._generation_keys())

    def load(self, *, discard_unreadable: bool = False) -> PeopleState:
        """The newest saved state (an empty one if there is none).

        Raises :class:`PeopleFileError` for a copy that cannot be read, unless ``discard_unreadable``: then it is moved
        to :attr:`unreadable` and the next newest readable copy is taken (an empty state when none is left).
        """
        generations = self._generation_keys()
        state = None
        with contextlib.suppress(oss2.exceptions.NoSuchKey):
            state = self._read(self.key, discard_unreadable)
        for key in reversed(generations):  # newest first: the first readable one newer than people.json wins
            if state is not None and self._number(key) <= state.generation:
                break
            newer = self._read(key, discard_unreadable)
            if newer is not None:
                state = newer
                break
        if state is None:
            state = PeopleState(generation=max((self._number(k) for k in self._generation_keys()), default=0))
        return state

    def _read(self, key: str, discard_unreadable: bool) -> PeopleState | None:
        body = self.bucket.get_object(key).read()
        try:
            return PeopleState.loads(body)
        except ValueError as exc:
            if not discard_unreadable:
                raise PeopleFileError(self._unreadable(key, str(exc))) from exc
        aside = f"{self.unreadable}{key.rsplit('/', 1)[-1]}.{now().replace(':', '')}"
        self.bucket.put_object(aside, body)
        self.bucket.delete_object(key)
        self.set_aside.append(aside)
        return None

    def _unreadable(self, key: str, reason: str) -> str:
        where = f"oss://{self.bucket.bucket_name}/{key}"
        prefix = f" --prefix {self.prefix}" if self.prefix else ""
        return (
            f"{where} cannot be read: {reason}. Fix it by hand, or run `ossfaces people {self.bucket.bucket_name}"
            f"{prefix} --discard-unreadable` to move it to {self.unreadable} and go on from the newest readable copy, "
            "or from none (forgotten faces stay forgotten)"
        )

    def save(self, state: PeopleState) -> int:
        """Save ``state`` as the generation after the one it was loaded as; return the new generation number.

        Raises :class:`PeopleConflict` when another run saved that generation first (nothing is written then).
        """
        state.generation += 1
        state.legacy = False
        body = state.dumps()
        headers = {"Content-Type": "application/json", "x-oss-forbid-overwrite": "true"}
        try:
            self.bucket.put_object(self.generation_key(state.generation), body, headers=headers)
        except oss2.exceptions.ServerError as exc:
            state.generation -= 1
            if exc.status == 409:
                raise PeopleConflict(
                    f"another `ossfaces people` run saved oss://{self.bucket.bucket_name}/{self.key} (generation "
                    f"{state.generation + 1}) after this one read generation {state.generation}; nothing of this run "
                    "was written: run it again"
                ) from exc
            raise
        self.bucket.put_object(self.key, body, headers={"Content-Type": "application/json"})
        old = [k for k in self._generation_keys() if self._number(k) < state.generation]
        if old:
            self.bucket.batch_delete_objects(old)  # names are personal data: no stale copies left behind
        return state.generation

    def delete_all(self) -> None:
        keys = [self.key, *self._generation_keys()]
        for key in keys:
            self.bucket.delete_object(key)

    def _generation_keys(self) -> list[str]:
        """The generations, oldest first; a file whose name is not a generation number is not ours to read."""
        listing = oss2.ObjectIteratorV2(self.bucket, prefix=self.generations)
        return sorted(o.key for o in listing if GENERATION_NAME.match(o.key[len(self.generations) :]))

    def _number(self, key: str) -> int:
        return int(key[len(self.generations) : -len(".json")])
