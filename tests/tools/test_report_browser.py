"""The HTML report in a real headless browser (Debian ``chromium``): the DOM holds the totals, the page is not blank.

In CI (``CI`` set) a missing chromium fails the test; on a laptop without it the test is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from ossfaces_tools.report.html import render_html

from .test_stats import accumulate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: apt-get install -y chromium")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture
def report_page(tmp_path: Path) -> Path:
    page = tmp_path / "report.html"
    page.write_text(render_html(accumulate(depth=1).report()), encoding="utf-8")
    return page


@pytest.mark.slow
def test_dom_holds_every_total(report_page: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", report_page.as_uri()).stdout

    def cell(group: str, metric: str, category: str | None = None, gender: str | None = None) -> int:
        attrs = f'data-group="{re.escape(group)}" data-metric="{metric}"'
        if category is not None:
            attrs += f' data-category="{re.escape(category)}"'
        if gender is not None:
            attrs += f' data-gender="{gender}"'
        (value,) = re.findall(rf"<td {attrs}>(\d+)</td>", dom)
        return int(value)

    assert [cell("(all)", m) for m in ("documents", "images", "images_with_faces", "faces", "error_documents",
                                        "unreadable")] == [8, 5, 4, 8, 3, 1]  # fmt: skip
    assert [cell("(all)", "genders", g) for g in ("FEMALE", "MALE", "UNKNOWN")] == [3, 4, 1]
    assert cell("(all)", "emotions", "HAPPY") == 3 and cell("(all)", "errors", "InvalidImage.Corrupt") == 2
    assert cell("(all)", "pyramid", "25-34", "FEMALE") == 1 and cell("(all)", "pyramid", "65+", "MALE") == 1
    assert cell("trip", "faces") == 5 and cell("home", "error_documents") == 3
    assert dom.count("<svg") >= 4  # the overall chart and one per folder, inline


PEOPLE: dict[str, Any] = {
    "people": 3, "faces_with_person": 12, "faces_without_person": 2,
    "genders": {"FEMALE": 2, "MALE": 1, "UNKNOWN": 0},
    "ages": {"0-12": 0, "13-17": 0, "18-24": 1, "25-34": 1, "35-44": 0, "45-54": 1, "55-64": 0, "65+": 0, "UNKNOWN": 0},
    "pyramid": {a: {"FEMALE": int(a in ("18-24", "25-34")), "MALE": int(a == "45-54"), "UNKNOWN": 0}
                for a in ("0-12", "13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "UNKNOWN")},
    "photos_per_person": {"distribution": {"1": 0, "2-4": 3, "5-9": 0, "10-99": 0, "100+": 0}, "mean": 4.0,
                          "median": 4, "max": 4},
    "people_per_photo": {"0": 2, "1": 12, "2": 0, "3": 0, "4+": 0},
}  # fmt: skip


@pytest.mark.slow
def test_dom_holds_the_people_section(tmp_path: Path) -> None:
    """``--by person``: the browser shows the people's tables (every number in a cell) and their row of charts."""
    page = tmp_path / "people.html"
    page.write_text(render_html(accumulate().report(), PEOPLE), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "People (one vote per person)" in dom
    assert "<!-- People (3): median age × gender -->" in dom and "<!-- Photos per person -->" in dom  # the charts
    assert re.search(r'<td data-group="\(people\)" data-metric="people">3</td>', dom)
    assert re.search(r'data-metric="people_pyramid" data-category="45-54" data-gender="MALE">1</td>', dom)
    assert re.search(r'data-metric="people_per_photo" data-category="1">12</td>', dom)


@pytest.mark.slow
def test_screenshot_is_not_blank(report_page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", report_page.as_uri())
    pixels = np.asarray(imread(shot))[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    ink = (pixels.mean(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    colour = (pixels.max(axis=2) - pixels.min(axis=2) > 0.2).mean()  # chart bars are coloured, text is grey
    assert ink > 0.02 and colour > 0.005, (ink, colour)
