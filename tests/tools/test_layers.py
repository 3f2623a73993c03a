"""The three parts of the package and the one way their imports point (issue 12; PLAN "Target layout").

Every ``import`` in the package counts, lazy ones inside functions too: a module-level cycle such as
``stats`` ↔ ``report.charts`` ↔ ``report.html`` is found even when one side imports lazily.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "function" / "ossfaces"
LAYERS = {"function": 0, "localstack": 1, "tools": 2, "commands": 3}
"""Lower layers never import higher ones: the function side imports nothing else; the local stack only the function
side; the tools the function side and the local stack (``demo`` starts it); the commands anything."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    second = module.split(".")[1] if module.count(".") else ""
    return second if second in LAYERS else "function"


def imports_of(path: Path, name: str) -> set[str]:
    """Every ``ossfaces`` module ``path`` imports, at any depth; ``from a import b`` counts ``a`` and ``a.b``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m == "ossfaces" or m.startswith("ossfaces.")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path, name) if m in modules and m != name} for name, path in modules.items()}


def cycles_in(edges: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_imports_point_one_way() -> None:
    back = [
        f"{a} → {b}"
        for a, targets in graph().items()
        for b in targets
        if b != "ossfaces" and LAYERS[layer(b)] > LAYERS[layer(a)]
    ]
    assert back == []


def test_no_import_cycles_between_modules() -> None:
    # a package's __init__ re-exporting its own modules is not a cycle of meaning: drop parent → child edges
    edges = {a: {b for b in targets if not b.startswith(a + ".")} for a, targets in graph().items()}
    assert cycles_in(edges) == []


def test_the_checks_would_see_a_back_edge_and_a_cycle(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from ossfaces.tools.stats import AgeBins\n", encoding="utf-8")
    found = imports_of(bad, "ossfaces.pipeline")
    assert (
        "ossfaces.tools.stats" in found and LAYERS[layer("ossfaces.tools.stats")] > LAYERS[layer("ossfaces.pipeline")]
    )
    rel = tmp_path / "y.py"
    rel.write_text("from .listing import Scanner\n", encoding="utf-8")
    assert "ossfaces.tools.backfill.listing" in imports_of(rel, "ossfaces.tools.backfill.run")
    assert cycles_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_stats_imports_neither_report_nor_backfill() -> None:
    edges = graph()
    assert not any(
        m.startswith(("ossfaces.tools.report", "ossfaces.tools.backfill")) for m in edges["ossfaces.tools.stats"]
    )


def test_console_script_is_the_commands_layer() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = re.search(r"^\[project\.scripts\]\n(.*?)(?:\n\[|\Z)", text, flags=re.S | re.M)
    assert scripts and scripts.group(1).strip() == 'ossfaces = "ossfaces.commands:main"'
    from ossfaces.commands import main

    assert set(main.commands) >= {"schema", "models", "analyze", "package", "backfill", "stats", "up", "invoke", "demo"}
