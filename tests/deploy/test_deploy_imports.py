"""The wall between what FC runs and everything else: ``function/`` imports only itself, the standard library and the
distributions pinned in ``requirements.txt`` (docs/design.md, "The parts"). One check, every import at any depth
(lazy ones inside functions too), so a tool, the local stack or a set-up-only package can never ride into the bundle.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

from .deploy_support import REPO

FUNCTION = REPO / "function"
NOT_CODE = {"models", "python", "__pycache__"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_distributions(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normalise(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]))
    return names


def with_dependencies(names: set[str]) -> set[str]:
    """``names`` and every distribution they require, as installed (extras left out: the bundle installs none)."""
    closure, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:  # a dependency for another Python (a marker): not importable here either
            continue
        closure.add(name)
        for requirement in requires:
            if "extra ==" not in requirement:
                todo.append(_normalise(re.split(r"[=<>!~\[; (]", requirement.strip(), maxsplit=1)[0]))
    return closure


def allowed_modules(requirements: Path) -> set[str]:
    """Top-level import names the deployed code may use: the pins of ``requirements.txt`` and what they pull in."""
    pinned = with_dependencies(pinned_distributions(requirements))
    third_party = {m for m, dists in packages_distributions().items() if pinned & {_normalise(d) for d in dists}}
    return set(sys.stdlib_module_names) | third_party | {"ossfaces", "index", "__future__"}


def code_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        code = path.suffix == ".py" or path.name == "bootstrap"
        if code and path.is_file() and not NOT_CODE & set(path.relative_to(root).parts[:-1]):
            yield path


def outside_imports(files: Iterable[Path], root: Path, allowed: set[str]) -> list[str]:
    """``file:line: module`` for every absolute import whose top-level name is not allowed, and every ``ossfaces.…``
    import that names no module under ``root``."""
    problems = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                inside = top == "ossfaces" and _exists(root, module)
                if top not in allowed or (top == "ossfaces" and not inside):
                    problems.append(f"{path.relative_to(root)}:{node.lineno}: {module}")
    return problems


def _exists(root: Path, module: str) -> bool:
    base = root.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_function_imports_nothing_outside_itself_and_its_pins() -> None:
    files = list(code_files(FUNCTION))
    assert {"index.py", "bootstrap"} <= {p.name for p in files} and len(files) > 20
    assert outside_imports(files, FUNCTION, allowed_modules(REPO / "requirements.txt")) == []


def test_the_wall_would_see_a_tool_the_stack_or_a_setup_package(tmp_path: Path) -> None:
    (tmp_path / "ossfaces").mkdir()
    (tmp_path / "ossfaces" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "ossfaces" / "pipeline.py").write_text(
        "import oss2\nfrom ossfaces import pipeline\nimport ossfaces.gone\n"
        "def f():\n    import ossfaces_tools.stats\n    from ossfaces_localstack.oss import LocalOss\n    import onnx\n",
        encoding="utf-8",
    )
    found = outside_imports(code_files(tmp_path), tmp_path, allowed_modules(REPO / "requirements.txt"))
    assert [line.rsplit(": ", 1)[1] for line in found] == [
        "ossfaces.gone",
        "ossfaces_tools.stats",
        "ossfaces_localstack.oss",
        "onnx",
    ]
