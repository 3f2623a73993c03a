"""Rendering of ``ossfaces stats`` reports: terminal table, charts (PNG/SVG) and a self-contained HTML page.

Dev-only, like the rest of the tools: not deployed to FC. Reads a ``StatsReport``; never touches OSS.
"""

from __future__ import annotations

from pathlib import Path

from ossfaces_tools.stats import StatsReport


def write_outputs(
    report: StatsReport, *, csv_path: str | None = None, png_path: str | None = None, html_path: str | None = None
) -> list[str]:
    """Write the files asked for; return their paths in the order written."""
    written: list[str] = []
    if csv_path:
        Path(csv_path).write_text(report.to_csv(), encoding="utf-8")
        written.append(csv_path)
    if png_path:
        from ossfaces_tools.report.charts import render

        Path(png_path).write_bytes(render(report, "png"))
        written.append(png_path)
    if html_path:
        from ossfaces_tools.report.html import render_html

        Path(html_path).write_text(render_html(report), encoding="utf-8")
        written.append(html_path)
    return written
