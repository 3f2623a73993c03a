"""``ossfaces stats --by person``: every output (JSON, CSV, PNG, HTML) holds the per-person figures the terminal shows.

The documents carry synthetic SFace-like embeddings (``people_support``: three people, four photos each, and a photo
without faces), clustered by the real ``ossfaces people`` against the local OSS.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import oss2
from click.testing import Result
from PIL import Image

from ossfaces_localstack.oss import LocalOss

from .people_support import document, face_json, faces_of, identities

CLI = Callable[..., Result]
PEOPLE = (("FEMALE", 31), ("MALE", 52), ("FEMALE", 24))  # gender and age of each person, four photos each


def upload_people(bucket: oss2.Bucket) -> None:
    rng = np.random.default_rng(16)
    ids = np.repeat(np.arange(len(PEOPLE)), 4)
    for n, (person, vector) in enumerate(zip(ids, faces_of(identities(len(PEOPLE), rng), ids, rng), strict=True)):
        gender, age = PEOPLE[person]
        key = f"lib/{n:02d}.jpg"
        bucket.put_object(f"{key}.faces.json", document(key, [face_json(vector, age=age + n % 2, gender=gender)]))
    bucket.put_object("lib/empty.jpg.faces.json", document("lib/empty.jpg", []))


def common(local_oss: LocalOss) -> list[str]:
    return ["--prefix", "lib/", "--region", local_oss.region, "--oss-endpoint", local_oss.endpoint, "--no-progress"]


def env_of(local_oss: LocalOss) -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": local_oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": local_oss.access_key_secret}  # fmt: skip


def flat(figures: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """The per-person figures as the CSV's ``(metric, category, gender) → value`` rows should hold them."""
    rows = {("people", "", ""): figures["people"], ("faces_with_person", "", ""): figures["faces_with_person"],
            ("faces_without_person", "", ""): figures["faces_without_person"]}  # fmt: skip
    rows |= {("people_genders", g, ""): v for g, v in figures["genders"].items()}
    rows |= {("people_ages", a, ""): v for a, v in figures["ages"].items()}
    rows |= {("people_pyramid", a, g): v for a, row in figures["pyramid"].items() for g, v in row.items()}
    spread = figures["photos_per_person"]
    rows |= {("photos_per_person", b, ""): v for b, v in spread["distribution"].items()}
    rows |= {(f"photos_per_person_{k}", "", ""): spread[k] for k in ("mean", "median", "max")}
    rows |= {("people_per_photo", n, ""): v for n, v in figures["people_per_photo"].items()}
    return {key: str(value) for key, value in rows.items()}


def test_by_person_is_in_every_output(local_oss: LocalOss, oss_bucket: oss2.Bucket, cli: CLI, tmp_path: Path) -> None:
    upload_people(oss_bucket)
    people = cli(["people", "test-bucket", *common(local_oss), "--json"], env_of(local_oss))
    assert people.exit_code == 0, people.stderr
    out = {ext: tmp_path / f"report.{ext}" for ext in ("csv", "png", "html")}
    stats = cli(["stats", "test-bucket", *common(local_oss), "--by", "person", "--json", "--csv", str(out["csv"]),
                 "--png", str(out["png"]), "--html", str(out["html"])], env_of(local_oss))  # fmt: skip
    assert stats.exit_code == 0, stats.stderr
    figures = json.loads(stats.stdout)["by_person"]
    assert figures["people"] == 3 and figures["faces_with_person"] == 12
    assert figures["genders"] == {"FEMALE": 2, "MALE": 1, "UNKNOWN": 0}
    assert figures["people_per_photo"]["1"] == 12

    assert "people: 3 distinct (12 faces with a person, 0 without)" in stats.stderr  # the terminal (JSON has stdout)

    rows = list(csv.DictReader(io.StringIO(out["csv"].read_text(encoding="utf-8"))))
    by_person = {(r["metric"], r["category"], r["gender"]): r["value"] for r in rows if r["group"] == "(people)"}
    assert by_person == flat(figures)

    page = out["html"].read_text(encoding="utf-8")
    cells = dict(re.findall(r'<td data-group="\(people\)" (data-metric="[^"]+"[^>]*)>([^<]*)<', page))
    for (metric, category, gender), value in flat(figures).items():
        attributes = f'data-metric="{metric}"'
        attributes += f' data-category="{category}"' if category else ""
        attributes += f' data-gender="{gender}"' if gender else ""
        assert cells.get(attributes) == value, attributes
    assert "People (one vote per person)" in page

    with Image.open(out["png"]) as png:
        assert png.size == (
            1200,
            1275,
        )  # 12 × 12.75 in at 100 dpi: the per-face charts (8.5 in tall) and the people row
