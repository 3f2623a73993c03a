"""The three source roots and the one way their imports point (docs/design.md, "The parts").

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


def test_no_module_is_over_500_lines() -> None:
    assert module_map.too_long() == []


def test_the_checks_would_see_a_back_edge_a_cycle_and_a_long_module(tmp_path: Path) -> None:
    for room, package in module_map.PACKAGES.items():
        (tmp_path / room / package).mkdir(parents=True)
        (tmp_path / room / package / "__init__.py").write_text("", encoding="utf-8")
    stack = tmp_path / "localstack" / "ossfaces_localstack"
    tools = tmp_path / "tools" / "ossfaces_tools"
    (stack / "stack.py").write_text("def f():\n    from ossfaces_tools.stats import AgeBins\n" + "#\n" * 600)
    (tools / "stats.py").write_text("from .report import charts\n", encoding="utf-8")
    (tools / "report.py").write_text("from ossfaces_tools import stats\n", encoding="utf-8")
    found = module_map.violations(tmp_path)
    assert "back-edge ossfaces_localstack.stack -> ossfaces_tools.stats" in found
    assert any(line.startswith("cycle ") and "ossfaces_tools.report" in line for line in found), found
    assert module_map.too_long(tmp_path) == ["too long ossfaces_localstack.stack (602 lines > 500)"]


def test_stats_imports_neither_report_nor_backfill() -> None:
    imports = module_map.load()["ossfaces_tools.stats"].imports
    assert not any(m.startswith(("ossfaces_tools.report", "ossfaces_tools.backfill")) for m in imports)


def test_console_script_is_the_commands_layer() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = re.search(r"^\[project\.scripts\]\n(.*?)(?:\n\[|\Z)", text, flags=re.S | re.M)
    assert scripts and scripts.group(1).strip() == 'ossfaces = "ossfaces_tools.commands:main"'
    from ossfaces_tools.commands import main

    assert set(main.commands) >= {
        "schema",
        "models",
        "analyze",
        "package",
        "backfill",
        "stats",
        "people",
        "up",
        "invoke",
        "demo",
    }
