"""``ossfaces people forget``: a person's faces forgotten for good, in steps a rerun resumes, and checked.

A forget is a deletion request about biometric data. It is done so that no kill, crash or later run undoes it:

1. the intent is saved first (the person out of the people file, where their faces stand recorded as forgotten,
   their photos as pending), so from then on no ``people`` run clusters those faces;
2. each pending result loses the faces' identity (``Embedding``, IMM v2's figure), gets them marked
   ``"Forgotten": true``, and names their positions in its metadata (``x-oss-meta-ossfaces-forgotten``), which the
   function reads with the HEAD it makes anyway before any re-analysis (``ossfaces.forgotten``);
3. the pending list is cleared.

Killed anywhere, ``people forget`` (or any ``people`` run) finishes it; ``people forget --check`` lists what is left.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import oss2

from ossfaces.forgotten import (
    IDENTITY_FIELDS,
    META_FORGOTTEN,
    Box,
    box_of,
    decode_boxes,
    encode_boxes,
    forget_faces,
    stands_at,
)
from ossfaces_tools.access import BucketAccess, ToolError
from ossfaces_tools.people.model import EditError, was_forgotten
from ossfaces_tools.people.model import forget as forget_in_state
from ossfaces_tools.people.state import PeopleConflict, StateStore


@dataclass
class ForgetResult:
    faces: int = 0
    """Faces of the person forgotten now (0 when finishing or when the person was forgotten before)."""
    documents: int = 0
    """Results rewritten without the forgotten faces' identities."""
    already: bool = False


def forget_person(access: BucketAccess, prefix: str, pid: int | None) -> ForgetResult:
    """Forget ``pid`` (None: only finish a forget cut short), in three steps that a rerun resumes:

    1. record the intent: the person out of the people file, where their faces stand as forgotten, their photos
       as pending (one conditional save; from here on no ``people`` run clusters those faces);
    2. strip the identity (``Embedding``, IMM's figure) of those faces from each pending result, mark them
       ``Forgotten`` and put the positions in the result's metadata, which the function reads before any re-analysis;
    3. clear the pending list (another save).

    The results keep every other field and their idempotency metadata: still up to date, nothing re-analysed.
    """
    access.require_credentials()
    settings = access.settings()
    bucket = access.open(settings)
    store = StateStore(bucket, prefix)
    state = store.load()
    result = ForgetResult()
    try:
        if pid is not None and was_forgotten(state, pid):
            result.already = True
        elif pid is not None:
            result.faces = len(forget_in_state(state, pid))
            store.save(state)  # 1. the intent
    except EditError as exc:
        raise ToolError(str(exc), usage=True) from exc
    except PeopleConflict as exc:
        raise ToolError(str(exc)) from exc
    for _ in range(3):
        if not state.forget_pending:
            return result
        for key in state.forget_pending:  # 2. the results (idempotent: a result already stripped is not written)
            entry = state.photos.get(key)
            if entry is not None and strip_document(bucket, key + settings.result_suffix, entry.forgotten):
                result.documents += 1
        state.forget_pending = []
        try:
            store.save(state)  # 3. done
            return result
        except PeopleConflict:  # another run saved meanwhile: do what its file says is pending
            state = store.load()
    raise ToolError(f"the people file under oss://{access.bucket}/{prefix} keeps changing: run the forget again")


def check_forgotten(access: BucketAccess, prefix: str) -> list[str]:
    """Every forgotten face under ``prefix`` whose result still holds an identity, lacks the mark, or whose result's
    metadata would not keep a re-analysis from giving it one back; and a forget not finished. Empty: all done."""
    access.require_credentials()
    settings = access.settings()
    bucket = access.open(settings)
    state = StateStore(bucket, prefix).load()
    problems = [f"a forget was not finished for {len(state.forget_pending)} photo(s)"] if state.forget_pending else []
    for key, entry in sorted(state.photos.items()):
        if not entry.forgotten:
            continue
        try:
            response = bucket.get_object(key + settings.result_suffix)
        except oss2.exceptions.NoSuchKey:
            continue  # no result: nothing holds an identity, and the function reads no mark it could lose
        marked = decode_boxes(response.headers.get(META_FORGOTTEN))
        if not all(box in marked for box in entry.forgotten):
            problems.append(f"{key}: the result's metadata does not name every forgotten face")
        faces = _faces_of(response.read())
        for i, face in enumerate(faces):
            if stands_at(box_of(face), entry.forgotten):
                if any(name in face for name in IDENTITY_FIELDS):
                    problems.append(f"{key}#{i}: a forgotten face still has {'/'.join(IDENTITY_FIELDS[:2])}")
                elif face.get("Forgotten") is not True:
                    problems.append(f"{key}#{i}: a forgotten face is not marked Forgotten")
    return problems


def _faces_of(body: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(body)
    except ValueError:
        return []
    faces = document.get("Faces") if isinstance(document, dict) else None
    return [f for f in faces if isinstance(f, dict)] if isinstance(faces, list) else []


def strip_document(bucket: oss2.Bucket, result: str, forgotten: Sequence[Box]) -> bool:
    """Take the identity off every face of ``result`` standing at a ``forgotten`` position, mark it, and name the
    positions in the result's metadata (the function's cue: ``ossfaces.forgotten``). One PUT, only if needed; every
    other field and metadata kept (the result stays up to date). True when the result was rewritten."""
    try:
        response = bucket.get_object(result)
    except oss2.exceptions.NoSuchKey:
        return False
    body = response.read()
    try:
        document = json.loads(body)
    except ValueError:
        return False  # not a result this tool can read: `people` counts it as unreadable
    faces = document.get("Faces") if isinstance(document, dict) else None
    faces = [f for f in faces if isinstance(f, dict)] if isinstance(faces, list) else []
    before = json.dumps(faces, sort_keys=True)
    forget_faces(faces, forgotten)
    marks = decode_boxes(response.headers.get(META_FORGOTTEN))
    wanted = encode_boxes([*marks, *forgotten])
    if json.dumps(faces, sort_keys=True) == before and wanted == encode_boxes(marks):
        return False
    headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-oss-meta-")}
    headers[META_FORGOTTEN] = wanted
    headers["Content-Type"] = "application/json"
    bucket.put_object(result, json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), headers)
    return True
