"""``ossfaces package``: the code bundle FC runs, built without Docker.

What goes in: ``function/`` (which holds only what FC runs; ``.fcignore`` drops caches), the model files, and the
runtime dependencies of ``requirements.txt`` as linux x86_64 wheels for FC's CPython (3.10) in ``python/``, which both
runtimes put on ``sys.path`` (``PYTHONPATH=/code/python`` in s.yaml, ``function/bootstrap`` for the custom runtime).

Why pip's ``--platform`` rather than ``s build``/``fun build``: those run pip inside FC's build image, i.e. need Docker.
pip can pick the right binary wheels for another platform itself, but only wheels: packages published as sdists only
(oss2, crcmod, aliyun-python-sdk-*) are built here first, and accepted only if the result is pure Python
(``*-none-any.whl``). crcmod's C extension is deliberately not built (it would be for this machine's Python); crcmod then
runs its pure-Python CRC, which is slower, and oss2 only uses it to check transfers.

A tool: not deployed (``.fcignore`` leaves out ``ossfaces/tools/``).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ossfaces_tools import bytecode

PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# FC limits (FC 3.0 "Limits"): a ZIP uploaded through the console, Serverless Devs / fun or from OSS may be 500 MB;
# through the SDK / OpenAPI (base64 in the request) 100 MB.
ZIP_LIMIT_TOOLS = 500 * 1024 * 1024
ZIP_LIMIT_API = 100 * 1024 * 1024
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip
_MISSING = re.compile(r"(?:No matching distribution found for|satisfies the requirement) ([A-Za-z0-9_.\-\[\]]+[^\s)]*)")

# Standard-library names that appeared in 3.11 or later: importing them breaks the bundle on FC's python3.10.
PY311_MODULES = frozenset({"tomllib", "wsgiref.types"})
PY311_NAMES = {
    "datetime": {"UTC"},
    "typing": {
        "Self", "LiteralString", "Never", "assert_never", "assert_type", "reveal_type", "dataclass_transform",
        "Required", "NotRequired", "TypeVarTuple", "Unpack", "get_overloads", "clear_overloads", "override",
        "TypeAliasType", "ReadOnly", "TypeIs",
    },
    "enum": {"StrEnum", "ReprEnum", "verify", "EnumCheck", "FlagBoundary", "member", "nonmember", "global_enum"},
    "asyncio": {"TaskGroup", "timeout", "timeout_at", "Runner", "Barrier"},
    "contextlib": {"chdir"},
    "hashlib": {"file_digest"},
    "operator": {"call"},
    "itertools": {"batched"},
}  # fmt: skip
PY311_BUILTINS = frozenset({"ExceptionGroup", "BaseExceptionGroup"})


class PackagingError(RuntimeError):
    """The bundle cannot be built as asked; the message says why."""


# --- .fcignore ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


@dataclass(frozen=True)
class IgnoreRules:
    """gitignore-style patterns, as Serverless Devs reads ``.fcignore`` (and fun ``.funignore``): ``#`` comments,
    ``!`` negation, a trailing ``/`` for directories only, a ``/`` inside the pattern anchors it to the file's folder,
    ``*``/``?``/``**``."""

    rules: tuple[_Rule, ...] = ()

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        return cls(tuple(rule for line in text.splitlines() if (rule := _compile(line)) is not None))

    @classmethod
    def load(cls, path: Path) -> IgnoreRules:
        return cls.parse(path.read_text(encoding="utf-8")) if path.is_file() else cls()

    def ignored(self, relpath: str, is_dir: bool) -> bool:
        """Is ``relpath`` (posix, relative to the code root) excluded? The last matching rule wins."""
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(relpath):
                result = not rule.negate
        return result


def funignore_text(fcignore: str, code_uri: str) -> str:
    """``.fcignore`` (relative to the code folder) rewritten for fun, which reads ``.funignore`` beside template.yml,
    relative to that folder: anchored patterns get the code folder in front; the others match at any depth anyway."""
    lines = [
        f"# Generated from {code_uri}/.fcignore by `ossfaces package` (fun reads this file, Serverless Devs that one)."
    ]
    for line in fcignore.splitlines():
        bang, pattern = ("!", line[1:]) if line.startswith("!") else ("", line)
        anchored = "/" in pattern.rstrip("/") and not line.startswith("#")
        lines.append(f"{bang}{code_uri}/{pattern.lstrip('/')}" if anchored else line)
    return "\n".join(lines) + "\n"


def _compile(line: str) -> _Rule | None:
    line = line.rstrip()
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate:
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    anchored = "/" in line
    line = line.lstrip("/")
    out = []
    i = 0
    while i < len(line):
        char = line[i]
        if line.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if line.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        i += 1
    body = "".join(out)
    return _Rule(re.compile(body if anchored else f"(?:.*/)?{body}"), negate, dir_only)


def walk(root: Path, rules: IgnoreRules, skip_top: Iterable[str] = ()) -> Iterator[Path]:
    """Files under ``root`` that the rules keep (a directory that is ignored is not entered)."""
    skip = set(skip_top)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):  # models/ may be a symlink (worktrees)
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not (rules.ignored(prefix + d, True) or (not prefix and d in skip)))
        for name in sorted(filenames):
            if not rules.ignored(prefix + name, False) and not (not prefix and name in skip):
                yield here / name


# --- dependencies ------------------------------------------------------------------------------------------------


def _pip(args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env, check=False)


def _target_args(python_version: str, platforms: Sequence[str]) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def build_pure_wheel(requirement: str, wheelhouse: Path) -> Path:
    """Build ``requirement`` from its sdist into a wheel; refuse it unless it is pure Python (runs on any CPython)."""
    before = set(wheelhouse.glob("*.whl"))
    env = {**os.environ, "CC": "/bin/false", "CXX": "/bin/false"}  # optional C extensions (crcmod) fall back to Python
    done = _pip(
        ["wheel", "--no-deps", "--no-binary", ":all:", "--no-cache-dir", "-w", str(wheelhouse), requirement], env
    )
    if done.returncode != 0:
        raise PackagingError(f"cannot build a wheel for {requirement}:\n{_tail(done.stderr or done.stdout)}")
    built = set(wheelhouse.glob("*.whl")) - before
    for wheel in built:
        if not wheel.name.endswith("-none-any.whl"):
            wheel.unlink()
            raise PackagingError(
                f"{requirement} has no wheel for FC's platform and builds to {wheel.name}, which is not pure Python: "
                "build it in FC's build image (s build) or pick a version with manylinux wheels"
            )
    return next(iter(built)) if built else wheelhouse


def download_wheels(
    requirements: Path, wheelhouse: Path, python_version: str, platforms: Sequence[str], max_rounds: int = 30
) -> list[str]:
    """Fill ``wheelhouse`` with every wheel the requirements need on FC; returns the requirements built locally."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    built: list[str] = []
    for _ in range(max_rounds):
        done = _pip(
            ["download", "-q", "-d", str(wheelhouse), "--find-links", str(wheelhouse),
             *_target_args(python_version, platforms), "-r", str(requirements)]
        )  # fmt: skip
        if done.returncode == 0:
            return built
        match = _MISSING.search(done.stderr)
        if not match or match.group(1) in built:
            raise PackagingError(f"pip cannot find wheels for FC (cp{python_version}):\n{_tail(done.stderr)}")
        requirement = match.group(1)
        build_pure_wheel(requirement, wheelhouse)
        built.append(requirement)
    raise PackagingError(f"gave up after building {len(built)} sdists: {', '.join(built)}")


UNUSED_AT_RUN_TIME = ("sympy", "mpmath", "coloredlogs", "humanfriendly", "flatbuffers", "protobuf")
"""Distributions onnxruntime 1.23 declares that its inference never imports (only its tools do: symbolic shape
inference, ORT-format conversion, coloured logs): left out of the bundle, about 80 MiB unzipped. A test runs the engine
with each of them made unimportable (``tests/deploy/test_deploy_packaging.py``)."""


def install_wheels(
    requirements: Path, wheelhouse: Path, target: Path, python_version: str, platforms: Sequence[str]
) -> None:
    """Install from the wheelhouse only (no index): what was checked above is exactly what is bundled."""
    if target.exists():
        shutil.rmtree(target)
    done = _pip(
        ["install", "-q", "--no-index", "--find-links", str(wheelhouse), "--target", str(target), "--no-compile",
         *_target_args(python_version, platforms), "-r", str(requirements)]
    )  # fmt: skip
    if done.returncode != 0:
        raise PackagingError(f"installing the wheels into {target} failed:\n{_tail(done.stderr)}")
    for junk in target.glob("bin"):
        shutil.rmtree(junk)  # console scripts of the dependencies: FC never runs them
    for name in UNUSED_AT_RUN_TIME:
        remove_distribution(target, name)


def remove_distribution(target: Path, name: str) -> None:
    """Delete every file an installed distribution's ``RECORD`` lists under ``target``, then its emptied folders."""
    for info in target.glob(f"{name.replace('-', '_')}-*.dist-info"):
        folders: set[Path] = set()
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            path = (target / line.split(",")[0]).resolve()
            if line and path.is_relative_to(target.resolve()):
                path.unlink(missing_ok=True)
                folders.update(path.parents)
        shutil.rmtree(info, ignore_errors=True)
        root = target.resolve()
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            if folder.is_relative_to(root) and folder != root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- Python 3.10 compatibility -----------------------------------------------------------------------------------


def py310_problems(files: Iterable[Path], root: Path | None = None) -> list[str]:
    """3.11+-only standard-library uses in the project's own code (syntax is ruff's job: ``--target-version py310``)."""
    problems: list[str] = []
    for path in files:
        name = path.relative_to(root).as_posix() if root else str(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=name)
        except SyntaxError as exc:
            problems.append(f"{name}:{exc.lineno}: syntax error: {exc.msg}")
            continue
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Import):
                problems += [f"{name}:{line}: import {a.name} (3.11+)" for a in node.names if a.name in PY311_MODULES]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module in PY311_MODULES:
                    problems.append(f"{name}:{line}: from {node.module} import ... (3.11+)")
                new = PY311_NAMES.get(node.module, set())
                problems += [f"{name}:{line}: {node.module}.{a.name} (3.11+)" for a in node.names if a.name in new]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.attr in PY311_NAMES.get(node.value.id, set()):
                    problems.append(f"{name}:{line}: {node.value.id}.{node.attr} (3.11+)")
            elif isinstance(node, ast.Name) and node.id in PY311_BUILTINS:
                problems.append(f"{name}:{line}: {node.id} (3.11+)")
            elif type(node).__name__ == "TryStar":  # ast.TryStar exists only from 3.11
                problems.append(f"{name}:{line}: except* (3.11+)")
    return problems


# --- the bundle --------------------------------------------------------------------------------------------------


@dataclass
class Bundle:
    """What ``build`` made: where, how big, and what to tell the operator."""

    directory: Path
    zip_path: Path | None
    unzipped_bytes: int
    zipped_bytes: int
    files: int
    built_from_sdist: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytecode: str = "none"
    """What :func:`compile_bytecode` compiled."""

    def report(self) -> str:
        mib = 1024 * 1024
        lines = [f"bundle: {self.directory} ({self.files} files, {self.unzipped_bytes / mib:.1f} MiB unzipped)"]
        lines.append(f"bytecode: {self.bytecode}")
        if self.zip_path is not None:
            lines.append(
                f"zip:    {self.zip_path} ({self.zipped_bytes / mib:.1f} MiB; FC accepts {ZIP_LIMIT_TOOLS // mib} MiB "
                f"through the console / s / fun / OSS, {ZIP_LIMIT_API // mib} MiB through the SDK / OpenAPI)"
            )
            if self.zipped_bytes > ZIP_LIMIT_TOOLS:
                lines.append("ERROR:  the zip is over FC's code package limit")
            elif self.zipped_bytes > ZIP_LIMIT_API:
                lines.append("note:   over the SDK / OpenAPI upload limit: deploy with s / fun or from OSS")
        if self.built_from_sdist:
            lines.append("built locally (pure Python, no wheel on PyPI): " + ", ".join(self.built_from_sdist))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _dir_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def write_zip(directory: Path, zip_path: Path) -> int:
    """Zip ``directory``'s contents, keeping file modes (``bootstrap`` must stay executable)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_ZIP_DATE)
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, 1024 * 1024)
    tmp.replace(zip_path)
    return zip_path.stat().st_size


def build(
    source: Path,
    requirements: Path,
    output: Path | None,
    *,
    work_dir: Path,
    python_version: str = "3.10",
    platforms: Sequence[str] = PLATFORMS,
    in_place: bool = False,
) -> Bundle:
    """Build the bundle: in ``work_dir/bundle`` and zipped to ``output``; or, ``in_place``, install the dependencies
    into ``source/python`` so that ``s deploy`` / ``fun deploy`` upload a complete ``function/``."""
    if not (source / "index.py").is_file():
        raise PackagingError(f"{source} has no index.py: not the function's code root")
    rules = IgnoreRules.load(source / ".fcignore")
    if (source.parent / "template.yml").is_file():  # fun deploys from there and reads .funignore, not .fcignore
        funignore = funignore_text((source / ".fcignore").read_text(encoding="utf-8"), source.name)
        (source.parent / ".funignore").write_text(funignore, encoding="utf-8")
    warnings: list[str] = []
    own_code = [p for p in walk(source, rules, skip_top={"python"}) if p.suffix == ".py" or p.name == "bootstrap"]
    problems = py310_problems(own_code, source)
    if problems and python_version == "3.10":
        raise PackagingError("the code uses Python 3.11+ features, FC runs 3.10:\n" + "\n".join(problems))
    if not (source / "models").is_dir() or not any((source / "models").iterdir()):
        warnings.append("no model files in models/: the local engine will not work (run `ossfaces models fetch`)")

    wheelhouse = work_dir / f"wheels-cp{python_version.replace('.', '')}"
    built = download_wheels(requirements, wheelhouse, python_version, platforms)

    if in_place:
        install_wheels(requirements, wheelhouse, source / "python", python_version, platforms)
        compiled, more = compile_bytecode(source, python_version)
        size, count = _dir_size_kept(source, rules)
        return Bundle(source, None, size, 0, count, built, warnings + more, compiled)

    bundle = work_dir / "bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    for path in walk(source, rules, skip_top={"python"}):
        target = bundle / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    install_wheels(requirements, wheelhouse, bundle / "python", python_version, platforms)
    compiled, more = compile_bytecode(bundle, python_version)
    size, count = _dir_size(bundle)
    zipped = write_zip(bundle, output) if output is not None else 0
    return Bundle(bundle, output, size, zipped, count, built, warnings + more, compiled)


def compile_bytecode(root: Path, python_version: str) -> tuple[str, list[str]]:
    """CPython 3.10 ``.pyc`` beside every module of the bundle (:mod:`ossfaces_tools.bytecode`: FC's ``/code`` is
    read-only, so without them every cold start compiles everything it imports). Returns the report's line and the
    warnings; never fails the build: a bundle without bytecode works, it only starts slower."""
    if python_version != bytecode.PYTHON_VERSION:
        return "none", [f"no bytecode: it is compiled for CPython {bytecode.PYTHON_VERSION} only, not {python_version}"]
    try:
        done = bytecode.compile_tree(root)
    except bytecode.BytecodeError as exc:
        return "none", [f"no bytecode, every cold start will compile the code it imports: {exc}"]
    warnings = [f"CPython 3.10 cannot compile {failure}" for failure in done.failed]
    warnings += [f"CPython 3.10 did not take back the .pyc of {path}" for path in done.rejected]
    return f"{done.compiled} modules compiled by CPython {done.python} (checked-hash .pyc)", warnings


def _dir_size_kept(source: Path, rules: IgnoreRules) -> tuple[int, int]:
    files = list(walk(source, rules))
    return sum(p.stat().st_size for p in files), len(files)
