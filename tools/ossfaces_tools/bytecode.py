"""CPython 3.10 bytecode for the bundle, compiled by CPython 3.10 itself running in Pyodide.

FC mounts the code read-only (``/code``: "[Errno 30] Read-only file system", FC's FAQ), so Python cannot cache the
bytecode it compiles there: without ``.pyc`` files in the bundle, every cold start compiles every module it imports
(the function's own, oss2, pydantic, numpy's Python half…), measured by ``benchmarks/bench_cold_start.py``. The files must
come from a 3.10 interpreter (the format changes with every minor version) and this machine has 3.11, so the bundle is
compiled by CPython 3.10.2 built for WebAssembly, npm ``pyodide@0.22.1`` (MPL-2.0) run by Node, which is installed
on first use into the per-user cache (:mod:`ossfaces_tools.npm`). Bytecode does not depend on the platform. The files are *checked-hash* ``.pyc``:
Python compares each with its source's hash, so a file edited later (FC's console editor) is compiled again rather than
shadowed by stale bytecode, and zip timestamps do not matter. After compiling, the same 3.10 loads every file back
with compiling forbidden: what it reports as taken is what FC's 3.10 will take.

A tool: not deployed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ossfaces_tools import npm

PYODIDE = "pyodide"
PYODIDE_VERSION = "0.22.1"
PYTHON_VERSION = "3.10"
"""The CPython minor version inside ``pyodide@0.22.1`` (3.10.2): the only target this module compiles for."""
MAGIC_310 = bytes.fromhex("6f0d0d0a")
"""``importlib.util.MAGIC_NUMBER`` of every CPython 3.10 release (3439): the first four bytes of its ``.pyc``."""

_NODE_SCRIPT = r"""
const { pathToFileURL } = require("node:url");
(async () => {
  const [pyodideDir, root, program] = process.argv.slice(-3);  // `node -e` has no script name in argv
  const { loadPyodide } = await import(pathToFileURL(pyodideDir + "/pyodide.mjs").href);
  const py = await loadPyodide({ indexURL: pyodideDir + "/" });
  py.FS.mkdir("/bundle");
  py.FS.mount(py.FS.filesystems.NODEFS, { root }, "/bundle");
  process.stdout.write(py.runPython(program));
})().catch((err) => { console.error(err); process.exit(1); });
"""

_COMPILE = r"""
import py_compile
from pathlib import Path

root = Path("/bundle")
compiled, failed = [], []
for path in sorted(root.rglob("*.py")):
    try:
        py_compile.compile(str(path), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        compiled.append(str(path.relative_to(root)))
    except py_compile.PyCompileError as exc:
        failed.append(f"{path.relative_to(root)}: {str(exc.msg).strip().splitlines()[-1]}")
"""

_VERIFY = r"""
import importlib.machinery, importlib.util, json, sys
from pathlib import Path

root = Path("/bundle")
try:
    compiled, failed
except NameError:  # verifying alone: every module that has a .pyc
    compiled = [str(p.relative_to(root)) for p in sorted(root.rglob("*.py")) if Path(importlib.util.cache_from_source(str(p))).is_file()]
    failed = []


class NoCompile(importlib.machinery.SourceFileLoader):
    def source_to_code(self, data, path, *, _optimize=-1):
        raise ImportError("no usable .pyc")


rejected = []
for name in compiled:
    try:
        NoCompile("m", str(root / name)).get_code("m")
    except ImportError:
        rejected.append(name)
json.dumps({"python": sys.version.split()[0], "magic": importlib.util.MAGIC_NUMBER.hex(), "compiled": len(compiled),
            "failed": failed, "rejected": rejected})
"""


class BytecodeError(Exception):
    """Node, npm or Pyodide could not be run; the message says what to install."""


@dataclass(frozen=True)
class Compiled:
    """What :func:`compile_tree` did: the interpreter, how many files it compiled, and which ones it could not."""

    python: str
    compiled: int
    failed: list[str] = field(default_factory=list)
    """Sources CPython 3.10 cannot compile (syntax of a newer Python): they will not import on FC either."""
    rejected: list[str] = field(default_factory=list)
    """Compiled files the 3.10 loader did not take back (always empty unless something is wrong)."""


def pyodide_dir() -> Path:
    """The pinned Pyodide package, installed with npm into the per-user cache the first time (:mod:`.npm`)."""
    try:
        return npm.install(PYODIDE, PYODIDE_VERSION, f"node_modules/{PYODIDE}/pyodide.mjs") / "node_modules" / PYODIDE
    except npm.NpmError as exc:
        raise BytecodeError(f"{exc} (it compiles the bundle's bytecode for CPython 3.10)") from exc


def compile_tree(root: Path) -> Compiled:
    """Write ``__pycache__/*.cpython-310.pyc`` (checked-hash) beside every ``.py`` under ``root``; check each loads."""
    return _run(root, _COMPILE + _VERIFY)


def verify_tree(root: Path) -> Compiled:
    """Load every ``.pyc`` under ``root`` back in CPython 3.10 with compiling forbidden; ``rejected`` are the ones it
    would compile again (a source changed since, or bytecode of another Python)."""
    return _run(root, _VERIFY)


def _run(root: Path, program: str) -> Compiled:
    node = shutil.which("node")
    if node is None:
        raise BytecodeError("Node (18+) is needed to compile the bundle's bytecode for CPython 3.10")
    pyodide = pyodide_dir()
    done = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(pyodide), str(root.resolve()), program],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise BytecodeError(f"Pyodide could not run over {root}:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    if bytes.fromhex(report["magic"]) != MAGIC_310:
        raise BytecodeError(f"Pyodide runs CPython {report['python']}, not {PYTHON_VERSION}")
    return Compiled(report["python"], report["compiled"], report["failed"], report["rejected"])
