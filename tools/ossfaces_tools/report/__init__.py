"""Rendering of ``ossfaces stats`` reports: terminal table, charts (PNG/SVG) and a self-contained HTML page.

Dev-only, like the rest of the tools: not deployed to FC. Reads a ``StatsReport``; never touches OSS.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ossfaces_tools.stats import StatsReport


def write_outputs(
    report: StatsReport,
    *,
    people: dict[str, Any] | None = None,
    csv_path: str | None = None,
    png_path: str | None = None,
    html_path: str | None = None,
) -> list[str]:
    """Write the files asked for, each with the ``--by person`` figures when given; return their paths in order."""
    written: list[str] = []
    if csv_path:
        text = report.to_csv()
        if people is not None:
            from ossfaces_tools.report.people import rows

            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows(people))
            text += out.getvalue()
        Path(csv_path).write_text(text, encoding="utf-8")
        written.append(csv_path)
    if png_path:
        from ossfaces_tools.report.charts import render

        Path(png_path).write_bytes(render(report, "png", people=people))
        written.append(png_path)
    if html_path:
        from ossfaces_tools.report.html import render_html

        Path(html_path).write_text(render_html(report, people), encoding="utf-8")
        written.append(html_path)
    return written
