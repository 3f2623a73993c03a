"""A synthetic set of ``.faces.json`` documents whose every total is known by hand (see ``EXPECTED``)."""

from __future__ import annotations

from typing import Any

import oss2

from ossfaces.document import EngineInfo, ErrorInfo, Face, FacesDocument, SourceInfo

Spec = tuple[int | None, str | None, str | None]  # (age, gender, emotion) of one face

FACES: dict[str, list[Spec] | str] = {  # photo key → its faces, or the Error.Code of an error document
    "trip/day1/a.jpg": [(8, "FEMALE", "HAPPY"), (34, "MALE", "CALM")],
    "trip/day1/b.jpg": [],
    "trip/day2/c.jpg": [(70, "MALE", "SAD"), (17, "FEMALE", "HAPPY"), (25, "FEMALE", "SURPRISED")],
    "home/d.jpg": [(44, "MALE", "HAPPY")],
    "home/e.jpg": "InvalidImage.Corrupt",
    "home/f.jpg": "InvalidImage.TooLarge",
    "home/h.jpg": "InvalidImage.Corrupt",
    "g.jpg": [(None, None, None), (13, "MALE", "ANGRY")],
}
UNREADABLE = "home/bad.jpg"

# Default bins 0,13,18,25,35,45,55,65.
EXPECTED: dict[str, Any] = {
    "documents": 8,
    "images": 5,
    "images_with_faces": 4,
    "faces": 8,
    "error_documents": 3,
    "unreadable": 1,
    "genders": {"FEMALE": 3, "MALE": 4, "UNKNOWN": 1},
    "ages": {"0-12": 1, "13-17": 2, "18-24": 0, "25-34": 2, "35-44": 1, "45-54": 0, "55-64": 0, "65+": 1, "UNKNOWN": 1},
    "emotions": {"ANGRY": 1, "CALM": 1, "DISGUSTED": 0, "HAPPY": 3, "SAD": 1, "SCARED": 0, "SURPRISED": 1, "UNKNOWN": 1},
    "errors": {"InvalidImage.Corrupt": 2, "InvalidImage.TooLarge": 1},
    "pyramid_nonzero": {("0-12", "FEMALE"): 1, ("13-17", "FEMALE"): 1, ("13-17", "MALE"): 1, ("25-34", "MALE"): 1,
                        ("25-34", "FEMALE"): 1, ("35-44", "MALE"): 1, ("65+", "MALE"): 1, ("UNKNOWN", "UNKNOWN"): 1},
}  # fmt: skip
EXPECTED_BY_FOLDER = {  # --group-by-folder 1
    "(root)": {"images": 1, "faces": 2, "error_documents": 0, "unreadable": 0},
    "home": {"images": 1, "faces": 1, "error_documents": 3, "unreadable": 1},
    "trip": {"images": 3, "faces": 5, "error_documents": 0, "unreadable": 0},
}


def document(key: str, spec: list[Spec] | str) -> FacesDocument:
    error = ErrorInfo(Code=spec, Message="synthetic") if isinstance(spec, str) else None
    faces = [] if isinstance(spec, str) else [
        Face(Age=age, Gender=gender, Emotion=emotion,
             FaceAttributes={"FaceBoundary": {"Left": 1, "Top": 1, "Width": 10, "Height": 10}})
        for age, gender, emotion in spec
    ]  # fmt: skip
    return FacesDocument(
        Source=SourceInfo(Bucket="test-bucket", Key=key, ETag="E", Size=1),
        Engine=EngineInfo(Name="imm", Version="imm/detectface@v1"),
        Faces=faces,
        Error=error,
    )


def upload(bucket: oss2.Bucket, suffix: str = ".faces.json") -> None:
    """The documents, the photos beside them (which stats must ignore), one unreadable document."""
    for key, spec in FACES.items():
        bucket.put_object(key, b"\xff\xd8not-really-a-jpeg")
        bucket.put_object(key + suffix, document(key, spec).to_json(), headers={"Content-Type": "application/json"})
    bucket.put_object(UNREADABLE + suffix, b"{not json")
    bucket.put_object("home/notes.txt", b"hello")
