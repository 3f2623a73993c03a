"""``ossfaces people``: read the faces under a prefix, update the people file, edits, the page. OSS in, OSS out.

Names are personal data: they are written only to the user's own bucket (the people file) and to what the user asks
for (stdout, the HTML page); nothing here logs them.
"""

from __future__ import annotations

import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import oss2

from ossfaces_tools.access import BucketAccess, ToolError
from ossfaces_tools.people.cluster import ClusterParams
from ossfaces_tools.people.faces import FaceRef, FaceTable, load_faces
from ossfaces_tools.people.model import EditError, PersonSummary, UpdateReport, summaries, update
from ossfaces_tools.people.model import forget as forget_in_state
from ossfaces_tools.people.state import PeopleConflict, PeopleState, StateStore

THUMBNAILS_PER_PERSON = 4
THUMBNAIL_PX = 112


@dataclass(frozen=True)
class PeopleRequest:
    access: BucketAccess
    prefix: str = ""
    max_distance: float | None = None
    min_faces: int | None = None
    rebuild: bool = False
    workers: int = 16
    html_path: str | None = None
    as_json: bool = False
    progress: bool = True


def read_faces(bucket: oss2.Bucket, prefix: str, suffix: str, workers: int, model: str) -> FaceTable:
    """Every usable face under ``prefix``: from the face index when there is one, else the results streamed."""
    return load_faces(bucket, prefix, suffix, workers, model)


def update_people(
    bucket: oss2.Bucket, prefix: str, suffix: str, *, params: ClusterParams | None = None, rebuild: bool = False,
    workers: int = 16,
) -> tuple[PeopleState, FaceTable, UpdateReport]:  # fmt: skip
    """Load the people file, bring it up to date with the results, save it if anything changed (conditionally)."""
    store = StateStore(bucket, prefix)
    state = store.load()
    if params is not None:
        state.max_distance, state.min_faces = params.max_distance, params.min_faces
    table = read_faces(bucket, prefix, suffix, workers, state.model)
    report = update(state, table, ClusterParams(state.max_distance, state.min_faces), rebuild=rebuild)
    report.generation = store.save(state) if report.changed else state.generation
    return state, table, report


def run_people(request: PeopleRequest, out: TextIO | None = None) -> int:
    """The command: update, print the people, write the page if asked. 0 on success."""
    from rich.console import Console

    out = out or sys.stdout
    access = request.access
    access.require_credentials()
    settings = access.settings()
    bucket = access.open(settings)
    params = None
    if request.max_distance is not None or request.min_faces is not None:
        current = StateStore(bucket, request.prefix).load()
        params = ClusterParams(
            request.max_distance if request.max_distance is not None else current.max_distance,
            request.min_faces if request.min_faces is not None else current.min_faces,
        )
    err = Console(stderr=True)
    try:
        with err.status("reading results and clustering faces…") if request.progress else _nothing():
            state, table, report = update_people(
                bucket, request.prefix, settings.result_suffix, params=params, rebuild=request.rebuild,
                workers=request.workers,
            )  # fmt: skip
    except PeopleConflict as exc:
        raise ToolError(str(exc)) from exc
    except oss2.exceptions.OssError as exc:
        raise ToolError(f"oss://{access.bucket}/{request.prefix}: {exc.status} {exc.code}: {exc.message}") from exc
    people = summaries(state, table)
    if request.as_json:
        out.write(json.dumps({"update": report.as_dict(), "people": [p.as_dict() for p in people]}, ensure_ascii=False))
        out.write("\n")
    print_people(people, report, err if request.as_json else Console(file=out))
    if request.html_path:
        from ossfaces_tools.people.page import render_people_html

        thumbs = thumbnails(bucket, table, people)
        where = f"oss://{access.bucket}/{request.prefix}"
        Path(request.html_path).write_text(render_people_html(people, table, thumbs, where), encoding="utf-8")
        err.print(f"wrote {request.html_path}")
    return 0


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def print_people(people: list[PersonSummary], report: UpdateReport, console: Any) -> None:
    from rich.table import Table

    head = (
        f"{report.people} people, {report.faces} faces ({report.unassigned} without a person yet); "
        + (f"{report.new_people} new people, {report.joined} faces placed; saved generation {report.generation}"
           if report.changed else "nothing changed")
    )  # fmt: skip
    table = Table(title=head)
    for column in ("id", "name", "faces", "photos", "age", "gender", ""):
        table.add_column(column, justify="right" if column in ("id", "faces", "photos") else "left")
    for p in people:
        ages = f"{p.age_min:.0f}–{p.age_max:.0f} (median {p.age_median:.0f})" if p.age_median is not None else ""
        gender = f"{p.gender.lower()} ({100 * p.gender_share:.0f} %)" if p.gender else ""
        table.add_row(str(p.pid), p.name or "", str(p.faces), str(p.photos), ages, gender, "hidden" if p.hidden else "")
    console.print(table)


# --------------------------------------------------------------------------------------------------- edits


def edit_people(access: BucketAccess, prefix: str, change: Callable[[PeopleState], str]) -> str:
    """Load the people file, apply ``change`` (which returns what to tell the user), save it conditionally."""
    access.require_credentials()
    store = StateStore(access.open(), prefix)
    state = store.load()
    if not state.people:
        raise ToolError(f"no people file under oss://{access.bucket}/{prefix} yet: run `ossfaces people BUCKET` first")
    try:
        message = change(state)
        store.save(state)
    except EditError as exc:
        raise ToolError(str(exc), usage=True) from exc
    except PeopleConflict as exc:
        raise ToolError(str(exc)) from exc
    return message


def forget_person(access: BucketAccess, prefix: str, pid: int) -> tuple[int, int]:
    """Remove a person from the people file and strip the embeddings of their faces from the result documents.

    Returns (faces forgotten, documents rewritten). The documents keep every other field and their metadata, so the
    function still sees them as up to date (no re-analysis that would write the embeddings back).
    """
    access.require_credentials()
    settings = access.settings()
    bucket = access.open(settings)
    store = StateStore(bucket, prefix)
    state = store.load()
    try:
        faces = forget_in_state(state, pid)
        store.save(state)
    except EditError as exc:
        raise ToolError(str(exc), usage=True) from exc
    except PeopleConflict as exc:
        raise ToolError(str(exc)) from exc
    return len(faces), strip_embeddings(bucket, faces, settings.result_suffix)


def strip_embeddings(bucket: oss2.Bucket, faces: list[FaceRef], suffix: str) -> int:
    by_photo: dict[str, set[int]] = defaultdict(set)
    for ref in faces:
        by_photo[ref.key].add(ref.index)
    rewritten = 0
    for key, indices in sorted(by_photo.items()):
        result = bucket.get_object(key + suffix)
        document = json.loads(result.read())
        changed = False
        for i, face in enumerate(document.get("Faces") or []):
            if i in indices and "Embedding" in face:
                del face["Embedding"]
                changed = True
        if not changed:
            continue
        headers = {k: v for k, v in result.headers.items() if k.lower().startswith("x-oss-meta-")}
        headers["Content-Type"] = "application/json"
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        bucket.put_object(key + suffix, body, headers=headers)
        rewritten += 1
    return rewritten


# --------------------------------------------------------------------------------------------------- thumbnails


def thumbnails(
    bucket: oss2.Bucket, table: FaceTable, people: list[PersonSummary], per_person: int = THUMBNAILS_PER_PERSON
) -> dict[int, bytes]:
    """Row → JPEG of the face, cropped from the photo as displayed (EXIF orientation applied, like the boxes).

    The largest faces of each person first; each photo is read once however many of its faces are shown.
    """
    from PIL import Image, ImageOps

    wanted: dict[int, list[int]] = defaultdict(list)  # photo → rows
    for person in people:
        if person.hidden:
            continue
        best = sorted(person.rows, key=lambda r: (-table.box[r][2] * table.box[r][3], r))[:per_person]
        for row in best:
            wanted[table.photo[row]].append(row)
    out: dict[int, bytes] = {}
    for photo, rows in wanted.items():
        try:
            data = bucket.get_object(table.keys[photo]).read()
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
            image.draft("RGB", (image.width, image.height))
            image = image.convert("RGB")
        except (oss2.exceptions.OssError, OSError, ValueError):
            continue  # a photo gone or unreadable: its faces get no picture
        for row in rows:
            left, top, width, height = table.box[row]
            margin = int(0.25 * max(width, height))
            box = (max(0, left - margin), max(0, top - margin), min(image.width, left + width + margin),
                   min(image.height, top + height + margin))  # fmt: skip
            crop = image.crop(box)
            crop.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            buffer = io.BytesIO()
            crop.save(buffer, "JPEG", quality=80)
            out[row] = buffer.getvalue()
    return out
