"""``ossfaces demo``: the main job end to end on the embedded default, with nothing but this machine.

Starts the local stack (local OSS + the triggers of template.yml / s.yaml + the function, with the local face engine behind
``imm/detectface``), uploads photos with the real ``oss2`` SDK, waits for the trigger to write every ``.faces.json`` and
prints what they say, then the statistics over them. Dev-only: not deployed.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import oss2

from ossfaces.document import FacesDocument
from ossfaces.settings import DEFAULT_IMAGE_SUFFIXES as IMAGE_SUFFIXES


def sample_photos() -> Iterator[tuple[str, bytes]]:
    """Real photos shipped in scikit-image (public domain), in the forms uploads take, plus two that must not crash it."""
    from PIL import Image
    from skimage import data

    def jpeg(image: Image.Image, **options: Any) -> bytes:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, **options)
        return out.getvalue()

    astronaut = Image.fromarray(data.astronaut())
    yield "photos/astronaut.jpg", jpeg(astronaut)
    exif = Image.Exif()
    exif[0x0112] = 6  # as a phone stores a portrait shot: pixels sideways, EXIF says "rotate 90° clockwise"
    yield (
        "photos/phone/astronaut-portrait.JPG",
        jpeg(astronaut.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()),
    )
    small = astronaut.resize((160, 160))
    crew = Image.new("RGB", (1600, 900), (40, 60, 80))
    for i, size in enumerate((400, 260, 160)):
        crew.paste(small.resize((size, size)) if size != 160 else small, (60 + i * 520, 200))
    yield "photos/montage/crew.png", _png(crew)
    yield "photos/coffee.jpg", jpeg(Image.fromarray(data.coffee()))
    yield "photos/broken.jpg", jpeg(astronaut)[:2000]
    yield "photos/readme.txt", b"not a photo: the trigger's suffix filter and the function's guard both leave it alone"


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def own_photos(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield f"photos/{path.relative_to(folder).as_posix()}", path.read_bytes()


def wait_for_results(bucket: oss2.Bucket, keys: list[str], timeout: float) -> dict[str, FacesDocument]:
    """Poll for each photo's result as a user would, until all are there or ``timeout`` passes."""
    results: dict[str, FacesDocument] = {}
    deadline = time.monotonic() + timeout
    while len(results) < len(keys) and time.monotonic() < deadline:
        for key in keys:
            if key not in results and bucket.object_exists(key + ".faces.json"):
                results[key] = FacesDocument.model_validate_json(bucket.get_object(key + ".faces.json").read())
        time.sleep(0.2)
    return results


def describe_faces(document: FacesDocument) -> str:
    if document.Error is not None:
        return f"Error {document.Error.Code}: {document.Error.Message}"
    if not document.Faces:
        return "no faces"
    parts = []
    for face in document.Faces:
        box = face.FaceAttributes.FaceBoundary if face.FaceAttributes else None
        where = f" at {box.Left},{box.Top} {box.Width}x{box.Height}" if box else ""
        parts.append(f"{face.Gender or '?'} {face.Age if face.Age is not None else '?'}y {face.Emotion or ''}{where}")
    return f"{len(document.Faces)} face(s): " + "; ".join(parts)


class DemoStack(Protocol):
    """What the demo needs of the running local stack (the command starts it: tools do not import the local stack)."""

    bucket: str
    oss: Any

    def describe(self) -> str: ...

    def wait_idle(self, timeout: float) -> bool: ...

    def invocations(self) -> list[Any]: ...


def run(stack: DemoStack, photos_dir: Path | None, timeout: float = 120.0) -> int:
    """Run the demo on a started stack; 0 when every photo got its result, 1 otherwise."""
    from rich.console import Console
    from rich.table import Table

    from ossfaces_tools.report.table import print_table
    from ossfaces_tools.stats import StatsAccumulator, collect, read_documents

    console = Console()
    photos = list(own_photos(photos_dir) if photos_dir else sample_photos())
    console.print("\n".join(stack.describe().splitlines()[:8]), highlight=False)
    bucket = oss2.Bucket(
        oss2.Auth(stack.oss.access_key_id, stack.oss.access_key_secret), stack.oss.endpoint, stack.bucket
    )
    started = time.monotonic()
    for key, body in photos:
        bucket.put_object(key, body)
    expected = [key for key, _ in photos if key.lower().endswith(IMAGE_SUFFIXES)]
    results = wait_for_results(bucket, expected, timeout)
    elapsed = time.monotonic() - started
    stack.wait_idle(timeout)
    table = Table(
        title=f"{len(results)}/{len(expected)} photos analysed in {elapsed:.1f} s (upload → trigger → function → result)"
    )
    table.add_column("photo")
    table.add_column("result (oss://…/<photo>.faces.json)")
    for key in expected:
        table.add_row(key, describe_faces(results[key]) if key in results else "[red]no result[/red]")
    console.print(table)
    skipped = [key for key, _ in photos if key not in expected]
    if skipped:
        console.print(f"not photos, left alone: {', '.join(skipped)}")
    report = collect(read_documents(bucket, "photos/", ".faces.json"), StatsAccumulator()).report()
    print_table(dataclasses.replace(report, bucket=stack.bucket, prefix="photos/"), console)
    failed = [i for i in stack.invocations() if i.outcome == "failed"]
    if failed:
        console.print(f"[red]{len(failed)} invocation(s) failed[/red]: " + "; ".join(str(i.error) for i in failed))
    return 0 if len(results) == len(expected) and not failed else 1
