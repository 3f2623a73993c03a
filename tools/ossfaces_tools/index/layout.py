"""Where the face index lives in the bucket, and its manifest: the one list of parts a reader may trust.

    <prefix>/.ossfaces/index/manifests/<generation:010d>.json   each generation created once (x-oss-forbid-overwrite)
    <prefix>/.ossfaces/index/parts/g<gen>-<run>/<chunk:06d>.parquet
    <prefix>/.ossfaces/index/deletes/g<gen>-<run>.parquet      (key, gen): rows of key older than gen are superseded

**No lost or doubled rows between two runs.** OSS has no compare-and-swap, but it has create-if-absent: a run reads
generation N, writes its parts under its own run id, and commits by creating generation N + 1. Of two runs at once
exactly one creates it; the other stops with :class:`IndexConflict` and its parts, named by a run id no manifest
mentions, are never read (it removes them). The newest generation is the index; older ones stay until compaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import oss2

from ossfaces.indexpart import FORMAT
from ossfaces_tools.access import ToolError

INDEX_DIR = ".ossfaces/index/"


class IndexConflict(ToolError):
    """Another run committed the next generation first; this run's parts were not added (run again)."""


class IndexDamaged(ToolError):
    """A part the manifest names is missing or not what the manifest says; ``ossfaces index`` repairs it."""


def index_root(prefix: str) -> str:
    return f"{prefix}{INDEX_DIR}" if not prefix or prefix.endswith("/") else f"{prefix}/{INDEX_DIR}"


def new_run_id() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class PartInfo:
    """One Parquet file the index is made of (a part, or a deletes file)."""

    key: str
    size: int
    etag: str
    rows: int
    gen: int
    photos: int = 0


@dataclass
class IndexManifest:
    generation: int = 0
    parts: list[PartInfo] = field(default_factory=list)
    deletes: list[PartInfo] = field(default_factory=list)
    suffix: str = ".faces.json"
    created: str = ""
    source: str = ""

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "Format": FORMAT,
            "Generation": self.generation,
            "Created": self.created,
            "Source": self.source,
            "Suffix": self.suffix,
            "Parts": [asdict(p) for p in self.parts],
            "Deletes": [asdict(p) for p in self.deletes],
        }
        return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes, where: str) -> IndexManifest:
        try:
            data = json.loads(body)
            if data.get("Format") != FORMAT:
                raise ValueError(f"format {data.get('Format')!r}")
            return cls(
                int(data["Generation"]),
                [PartInfo(**p) for p in data["Parts"]],
                [PartInfo(**p) for p in data.get("Deletes", [])],
                str(data.get("Suffix", ".faces.json")),
                str(data.get("Created", "")),
                str(data.get("Source", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexDamaged(f"{where}: not an ossfaces index manifest ({exc}); delete it to rebuild") from None


class IndexStore:
    """The index of one prefix of one bucket: read the newest manifest, commit the next one."""

    def __init__(self, bucket: oss2.Bucket, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.root = index_root(prefix)

    def manifest_key(self, generation: int) -> str:
        return f"{self.root}manifests/{generation:010d}.json"

    def run_dir(self, generation: int, run: str) -> str:
        return f"{self.root}parts/g{generation:010d}-{run}/"

    def part_key(self, generation: int, run: str, chunk: int, content: str) -> str:
        """A chunk's part: its number and a digest of what it reads, so a resumed run reuses only identical chunks."""
        return f"{self.run_dir(generation, run)}{chunk:06d}-{content[:16]}.parquet"

    def deletes_key(self, generation: int, run: str) -> str:
        return f"{self.root}deletes/g{generation:010d}-{run}.parquet"

    def generations(self) -> Iterator[tuple[int, str]]:
        for info in oss2.ObjectIteratorV2(self.bucket, prefix=f"{self.root}manifests/", max_keys=1000):
            name = info.key.rsplit("/", 1)[-1]
            if name.endswith(".json") and name[:-5].isdigit():
                yield int(name[:-5]), info.key

    def exists(self) -> bool:
        return any(True for _ in self.generations())

    def load(self) -> IndexManifest:
        """The newest generation (an empty manifest when there is no index yet)."""
        newest = max(self.generations(), default=None)
        if newest is None:
            return IndexManifest()
        return IndexManifest.from_json(
            self.bucket.get_object(newest[1]).read(), f"oss://{self.bucket.bucket_name}/{newest[1]}"
        )

    def commit(self, manifest: IndexManifest) -> str:
        """Create generation ``manifest.generation``; :class:`IndexConflict` when another run created it first."""
        manifest.created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = self.manifest_key(manifest.generation)
        headers = {"x-oss-forbid-overwrite": "true", "Content-Type": "application/json"}
        try:
            self.bucket.put_object(key, manifest.to_json(), headers=headers)
        except oss2.exceptions.ServerError as exc:
            if exc.status == 409 and exc.code == "FileAlreadyExists":
                raise IndexConflict(
                    f"another index run committed generation {manifest.generation} of oss://{self.bucket.bucket_name}/"
                    f"{self.root} first; nothing of this run was added: run again (it reads only what is still new)"
                ) from exc
            raise
        return key

    def part_info(self, key: str, gen: int) -> PartInfo | None:
        """A written part as the manifest records it (its rows and photos from the writer's metadata)."""
        from ossfaces.indexpart import PHOTOS_META, ROWS_META

        try:
            head = self.bucket.head_object(key)
        except oss2.exceptions.NotFound:
            return None
        return PartInfo(key, int(head.content_length), str(head.etag).strip('"').upper(),
                        int(head.headers.get(ROWS_META, 0)), gen, int(head.headers.get(PHOTOS_META, 0)))  # fmt: skip

    def remove(self, keys: list[str]) -> None:
        for first in range(0, len(keys), 1000):
            batch = keys[first : first + 1000]
            if batch:
                self.bucket.batch_delete_objects(batch)
