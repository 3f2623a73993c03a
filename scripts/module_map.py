"""Print the module map: the three source roots, the imports between them, back-edges and cycles, the largest files
and functions.

The rooms of docs/design.md ("The parts") are folders: ``function/`` (``ossfaces``, what FC runs), ``localstack/``
(``ossfaces_localstack``) and ``tools/`` (``ossfaces_tools``, the user's tools and the CLI). They are layered in that
order: a room imports only rooms below it (``demo`` may start the stack; the stack never imports a tool). The wall
around ``function/`` is held by ``tests/deploy/test_deploy_imports.py``; ``tests/tools/test_layers.py`` holds the rest
to :func:`violations`.

    python scripts/module_map.py [--top 12]
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("function", "localstack", "tools")
"""Bottom to top: each room may import the rooms before it in this tuple, never those after it."""
ALLOWED = {room: set(LAYERS[:i]) for i, room in enumerate(LAYERS)}
PACKAGES = {"function": "ossfaces", "localstack": "ossfaces_localstack", "tools": "ossfaces_tools"}
ROOM_OF = {package: room for room, package in PACKAGES.items()}
MAX_MODULE_LINES = 500


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    imports: frozenset[str]

    @property
    def room(self) -> str:
        return ROOM_OF[self.name.split(".")[0]]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, name: str, is_package: bool) -> set[str]:
    """First-party modules imported anywhere in the file (lazy imports inside functions count too)."""
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] in ROOM_OF)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] not in ROOM_OF:
                continue
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def load(root: Path = ROOT) -> dict[str, Module]:
    names = {
        _module_name(path, root / room): path
        for room, package in PACKAGES.items()
        for path in sorted((root / room / package).rglob("*.py"))
    }
    modules: dict[str, Module] = {}
    for name, path in names.items():
        raw = _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
        modules[name] = Module(name, path, frozenset(m for m in raw if m in names and m != name))
    return modules


def back_edges(modules: dict[str, Module]) -> list[tuple[str, str]]:
    """Imports from a room into a room it may not import."""
    bad = []
    for module in modules.values():
        for target in sorted(module.imports):
            room = modules[target].room
            if room != module.room and room not in ALLOWED[module.room]:
                bad.append((module.name, target))
    return bad


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), ignoring imports of a package's own __init__."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def edges(name: str) -> list[str]:
        return [t for t in modules[name].imports if not name.startswith(t + ".")]

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in edges(name):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    return found


def violations(root: Path = ROOT) -> list[str]:
    modules = load(root)
    lines = [f"back-edge {a} -> {b}" for a, b in back_edges(modules)]
    lines += ["cycle " + " <-> ".join(c) for c in cycles(modules)]
    return lines


def too_long(root: Path = ROOT) -> list[str]:
    """Modules over :data:`MAX_MODULE_LINES`: a module that long holds more than one role."""
    lines = []
    for module in load(root).values():
        length = len(module.path.read_text(encoding="utf-8").splitlines())
        if length > MAX_MODULE_LINES:
            lines.append(f"too long {module.name} ({length} lines > {MAX_MODULE_LINES})")
    return lines


def _functions(path: Path) -> list[tuple[int, int, str]]:
    """(lines, parameters, qualified name) of every function in the file."""
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
            count -= 1 if args.args and args.args[0].arg in ("self", "cls") else 0
            out.append(((node.end_lineno or node.lineno) - node.lineno + 1, count, node.name))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12)
    top = parser.parse_args().top
    modules = load()
    by_room: dict[str, list[Module]] = defaultdict(list)
    for module in modules.values():
        by_room[module.room].append(module)
    print("rooms (modules, lines):")
    for room in LAYERS:
        members = by_room.get(room, [])
        size = sum(len(m.path.read_text(encoding="utf-8").splitlines()) for m in members)
        print(f"  {room:10s} {len(members):3d} modules {size:6d} lines")
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for module in modules.values():
        for target in module.imports:
            if modules[target].room != module.room:
                edges[(module.room, modules[target].room)] += 1
    print("imports between rooms:")
    for (a, b), n in sorted(edges.items()):
        mark = "" if b in ALLOWED[a] else "   <- back-edge"
        print(f"  {a:10s} -> {b:10s} {n:3d}{mark}")
    for line in violations() + too_long() or ["no back-edges, no cycles, no module over 500 lines"]:
        print("  " + line)
    print(f"largest files (lines), top {top}:")
    sizes = sorted(
        ((len(m.path.read_text(encoding="utf-8").splitlines()), m.name) for m in modules.values()), reverse=True
    )
    for n, name in sizes[:top]:
        print(f"  {n:5d} {name}")
    print(f"largest functions (lines, parameters), top {top}:")
    funcs = sorted(((n, p, f"{m.name}.{f}") for m in modules.values() for n, p, f in _functions(m.path)), reverse=True)
    for n, p, name in funcs[:top]:
        print(f"  {n:5d} {p:3d}  {name}")


if __name__ == "__main__":
    main()
