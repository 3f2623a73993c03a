"""``ossfaces package``'s bytecode: CPython 3.10 ``.pyc``, compiled by CPython 3.10 (Pyodide from npm) and taken back
by it with compiling forbidden. FC's ``/code`` is read-only: without them every cold start compiles every module.

Needs Node + npm: ``pyodide@0.22.1`` is installed once per machine into ~/.cache/ossfaces/npm/ (about 13 MB),
as ``ossfaces package`` does (:mod:`ossfaces_tools.npm`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ossfaces_tools import bytecode

from .deploy_support import REPO

FUNCTION = REPO / "function"
MAGIC_310 = b"o\r\r\n"
"""The first four bytes of every CPython 3.10 ``.pyc`` (magic number 3439), written out rather than taken from the tool."""
CHECKED_HASH = 0b11
"""``.pyc`` flags: hash-based (bit 0), source checked on import (bit 1) — PEP 552."""


def _code_tree(root: Path) -> Path:
    shutil.copytree(FUNCTION / "ossfaces", root / "ossfaces", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(FUNCTION / "index.py", root / "index.py")
    return root


def test_every_module_gets_a_checked_hash_pyc_that_cpython_310_takes(tmp_path: Path) -> None:
    tree = _code_tree(tmp_path / "code")
    (tree / "newer.py").write_text("try:\n    pass\nexcept* ValueError:\n    pass\n", encoding="utf-8")  # 3.11 syntax
    done = bytecode.compile_tree(tree)
    sources = [p for p in sorted(tree.rglob("*.py")) if p.name != "newer.py"]
    assert done.python.startswith("3.10.")
    assert done.compiled == len(sources) > 20
    assert [f.split(":")[0] for f in done.failed] == ["newer.py"], done.failed  # named, not silently left out
    assert done.rejected == []
    for source in sources:
        header = (source.parent / "__pycache__" / f"{source.stem}.cpython-310.pyc").read_bytes()[:8]
        assert header[:4] == MAGIC_310 and int.from_bytes(header[4:8], "little") == CHECKED_HASH, source


@pytest.mark.slow
def test_a_source_edited_after_packaging_is_compiled_again_not_shadowed(tmp_path: Path) -> None:
    """FC's console can edit deployed code: checked-hash bytecode of the old text must not be run instead."""
    tree = tmp_path / "code"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tree / "pkg" / "settings.py").write_text("LIMIT = 1\n", encoding="utf-8")
    assert bytecode.compile_tree(tree).rejected == []
    (tree / "pkg" / "settings.py").write_text("LIMIT = 2\n", encoding="utf-8")
    assert bytecode.verify_tree(tree).rejected == ["pkg/settings.py"]
