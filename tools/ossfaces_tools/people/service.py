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
from ossfaces_tools.people.faces import FaceTable, load_faces
from ossfaces_tools.people.forget import strip_document
from ossfaces_tools.people.model import EditError, PersonSummary, UpdateReport, summaries, update
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
    discard_unreadable: bool = False


def read_faces(bucket: oss2.Bucket, prefix: str, suffix: str, workers: int, model: str) -> FaceTable:
    """Every usable face under ``prefix``: from the face index when there is one, else the results streamed."""
    return load_faces(bucket, prefix, suffix, workers, model)


def update_people(
    bucket: oss2.Bucket, prefix: str, suffix: str, *, params: ClusterParams | None = None, rebuild: bool = False,
    workers: int = 16, discard_unreadable: bool = False,
) -> tuple[PeopleState, FaceTable, UpdateReport]:  # fmt: skip
    """Load the people file, bring it up to date with the results, save it if anything changed (conditionally).

    A forgotten face whose result still holds an identity (a forget cut short, a result rewritten without the mark)
    is stripped again before the save, and the forgets pending are then done."""
    store = StateStore(bucket, prefix)
    state = store.load(discard_unreadable=discard_unreadable)
    if params is not None:
        state.max_distance, state.min_faces = params.max_distance, params.min_faces
    table = read_faces(bucket, prefix, suffix, workers, state.model)
    report = update(state, table, ClusterParams(state.max_distance, state.min_faces), rebuild=rebuild)
    for key in sorted({ref.key for ref in report.lingering}):
        strip_document(bucket, key + suffix, state.photos[key].forgotten)
    if state.forget_pending:
        state.forget_pending = []  # every result under the prefix was just read, and stripped where needed
        report.changed = True
    report.changed |= bool(store.set_aside)  # a copy moved aside: people.json is written again, readable
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
        current = StateStore(bucket, request.prefix).load(discard_unreadable=request.discard_unreadable)
        params = ClusterParams(
            request.max_distance if request.max_distance is not None else current.max_distance,
            request.min_faces if request.min_faces is not None else current.min_faces,
        )
    err = Console(stderr=True)
    try:
        with err.status("reading results and clustering faces…") if request.progress else _nothing():
            state, table, report = update_people(
                bucket, request.prefix, settings.result_suffix, params=params, rebuild=request.rebuild,
                workers=request.workers, discard_unreadable=request.discard_unreadable,
            )  # fmt: skip
    except PeopleConflict as exc:
        raise ToolError(str(exc)) from exc
    except oss2.exceptions.OssError as exc:
        raise access.failure(exc, f"reading oss://{access.bucket}/{request.prefix}") from exc
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
        + (f"; {report.reanalysed} re-analysed photos matched" if report.reanalysed else "")
        + (f"; identity stripped again from {len(report.lingering)} forgotten faces" if report.lingering else "")
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
