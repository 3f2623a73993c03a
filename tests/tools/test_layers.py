"""The rooms of the package and the one way their imports point (issue 12; DESIGN.md "Let the folders show the three parts").

The rules and the import graph live in ``scripts/module_map.py`` (which also prints the map); these tests hold the tree
to them. Every ``import`` counts, lazy ones inside functions too: a cycle such as ``stats`` ↔ ``report.charts`` ↔
``report.html`` is found even when one side imports lazily.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import module_map  # noqa: E402  (a script, not a package: found through the path set above)


def test_imports_point_one_way_and_form_no_cycle() -> None:
    assert module_map.violations() == []


def test_the_checks_would_see_a_back_edge_and_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "ossfaces"
    (package / "tools").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "tools" / "__init__.py").write_text("", encoding="utf-8")
    (package / "pipeline.py").write_text("def f():\n    from ossfaces.tools.stats import AgeBins\n", encoding="utf-8")
    (package / "tools" / "stats.py").write_text("from .report import charts\n", encoding="utf-8")
    (package / "tools" / "report.py").write_text("from ossfaces.tools import stats\n", encoding="utf-8")
    found = module_map.violations(tmp_path)
    assert "back-edge ossfaces.pipeline -> ossfaces.tools.stats" in found
    assert any(line.startswith("cycle ") and "ossfaces.tools.report" in line for line in found), found


def test_stats_imports_neither_report_nor_backfill() -> None:
    imports = module_map.load()["ossfaces.tools.stats"].imports
    assert not any(m.startswith(("ossfaces.tools.report", "ossfaces.tools.backfill")) for m in imports)


def test_console_script_is_the_commands_layer() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = re.search(r"^\[project\.scripts\]\n(.*?)(?:\n\[|\Z)", text, flags=re.S | re.M)
    assert scripts and scripts.group(1).strip() == 'ossfaces = "ossfaces.commands:main"'
    from ossfaces.commands import main

    assert set(main.commands) >= {"schema", "models", "analyze", "package", "backfill", "stats", "up", "invoke", "demo"}
