"""The people file: ``<prefix>/.ossfaces/people.json`` in the user's bucket, beside the photos.

It holds who is who (ids, names, hidden, merges), which face of which photo belongs to whom, and the settings the
clustering ran with. No embedding is stored in it: those stay in the result documents.

**No lost update between two runs.** OSS has no compare-and-swap on an object, but it has create-if-absent
(``x-oss-forbid-overwrite: true``, 409 when the key exists). Every save is generation ``N + 1`` of the generation
``N`` it was computed from: it is first created as ``.ossfaces/people.generations/<N+1>.json`` with
``x-oss-forbid-overwrite`` (the one step that can fail, and exactly one of two racing runs wins it), then copied to
``people.json`` and older generations are deleted. A reader takes ``people.json`` unless a newer generation exists
(a run stopped between the two writes): then the newest generation wins, so nothing acknowledged is ever lost.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import oss2

from ossfaces.embedding import EMBEDDING_MODEL
from ossfaces_tools.people.cluster import DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES

FORMAT = "ossfaces-people/1"


class PeopleConflict(Exception):
    """Another run saved the people file after this one read it; nothing of this run was written."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Person:
        return cls(data.get("Name"), bool(data.get("Hidden")), data.get("MergedInto"), data.get("Created", ""))


@dataclass
class PhotoEntry:
    """One photo's faces: ``faces[i]`` is the person of face ``i`` (None: nobody yet)."""

    version: str
    faces: list[int | None]
    pinned: list[int] = field(default_factory=list)
    """Faces a user placed (merge, split): a re-cluster from scratch keeps them where they are."""
    forgotten: list[int] = field(default_factory=list)
    """Faces of forgotten people: never clustered again."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Version": self.version, "Faces": self.faces}
        if self.pinned:
            out["Pinned"] = sorted(set(self.pinned))
        if self.forgotten:
            out["Forgotten"] = sorted(set(self.forgotten))
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhotoEntry:
        return cls(data["Version"], list(data["Faces"]), list(data.get("Pinned", [])), list(data.get("Forgotten", [])))


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

    def to_json(self) -> dict[str, Any]:
        return {
            "Format": FORMAT,
            "Generation": self.generation,
            "NextId": self.next_id,
            "Settings": {"MaxDistance": self.max_distance, "MinFaces": self.min_faces, "Model": self.model},
            "People": {str(pid): person.to_json() for pid, person in sorted(self.people.items())},
            "Photos": {key: entry.to_json() for key, entry in sorted(self.photos.items())},
            "Figures": dict(sorted(self.figures.items())),
        }

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def content(self) -> dict[str, Any]:
        """Everything but the generation: what "changed" means."""
        data = self.to_json()
        del data["Generation"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PeopleState:
        if data.get("Format") != FORMAT:
            raise ValueError(f"not a people file of format {FORMAT}: {data.get('Format')!r}")
        settings = data.get("Settings", {})
        return cls(
            generation=int(data["Generation"]),
            next_id=int(data["NextId"]),
            max_distance=float(settings.get("MaxDistance", DEFAULT_MAX_DISTANCE)),
            min_faces=int(settings.get("MinFaces", DEFAULT_MIN_FACES)),
            model=str(settings.get("Model", EMBEDDING_MODEL)),
            people={int(pid): Person.from_json(p) for pid, p in data.get("People", {}).items()},
            photos={key: PhotoEntry.from_json(e) for key, e in data.get("Photos", {}).items()},
            figures={k: int(v) for k, v in data.get("Figures", {}).items()},
        )


def state_dir(prefix: str) -> str:
    """``<prefix>/.ossfaces/`` (``prefix`` as given to the command: a folder such as ``photos/``, or empty)."""
    base = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    return f"{base}.ossfaces/"


class StateStore:
    """Reads and conditionally writes the people file of ``prefix`` (see the module's note on generations)."""

    def __init__(self, bucket: oss2.Bucket, prefix: str) -> None:
        self.bucket = bucket
        self.key = state_dir(prefix) + "people.json"
        self.generations = state_dir(prefix) + "people.generations/"

    def generation_key(self, generation: int) -> str:
        return f"{self.generations}{generation:012d}.json"

    def exists(self) -> bool:
        return bool(self.bucket.object_exists(self.key)) or bool(self._generation_keys())

    def load(self) -> PeopleState:
        """The newest saved state (an empty one if there is none)."""
        state = None
        with contextlib.suppress(oss2.exceptions.NoSuchKey):
            state = PeopleState.from_json(json.loads(self.bucket.get_object(self.key).read()))
        newer = [k for k in self._generation_keys() if state is None or self._number(k) > state.generation]
        if newer:
            state = PeopleState.from_json(json.loads(self.bucket.get_object(newer[-1]).read()))
        return state or PeopleState()

    def save(self, state: PeopleState) -> int:
        """Save ``state`` as the generation after the one it was loaded as; return the new generation number.

        Raises :class:`PeopleConflict` when another run saved that generation first (nothing is written then).
        """
        state.generation += 1
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
        return sorted(
            o.key for o in oss2.ObjectIteratorV2(self.bucket, prefix=self.generations) if o.key.endswith(".json")
        )

    def _number(self, key: str) -> int:
        return int(key[len(self.generations) : -len(".json")])
