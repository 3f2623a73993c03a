"""Rendering of ``ossfaces stats`` reports: terminal table, charts (PNG/SVG) and a self-contained HTML page.

Dev-only, like the rest of the CLI: not deployed to FC. Reads a ``StatsReport``; never touches OSS.
"""
