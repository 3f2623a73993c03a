"""``ossfaces package``: what goes into the FC bundle, what stays out, and that it runs on FC's Python 3.10.

The build test needs PyPI (marker ``network``; about 30 s the first time, wheels are then cached in .cache/package/).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ossfaces_tools.commands import main
from ossfaces_tools.packaging import UNUSED_AT_RUN_TIME, IgnoreRules, funignore_text, py310_problems, walk

from .deploy_support import FUN_CACHE, REPO, Fun

FUNCTION = REPO / "function"
SETUP_ONLY_CODE = ("import onnx", "import h5py", "from onnx", "from h5py")


def test_ignore_rules_follow_gitignore_semantics() -> None:
    rules = IgnoreRules.parse(
        "# comment\n__pycache__/\n*.pyc\nossfaces/cli.py\n/top.txt\nbuild/\n!keep.pyc\ndocs/**/*.md\n"
    )
    assert rules.ignored("ossfaces/__pycache__", is_dir=True)
    assert rules.ignored("a/b/c.pyc", is_dir=False) and not rules.ignored("a/keep.pyc", is_dir=False)
    assert rules.ignored("ossfaces/cli.py", is_dir=False) and not rules.ignored("other/ossfaces/cli.py", is_dir=False)
    assert rules.ignored("top.txt", is_dir=False) and not rules.ignored("sub/top.txt", is_dir=False)
    assert rules.ignored("x/build", is_dir=True) and not rules.ignored("x/build", is_dir=False)
    assert rules.ignored("docs/a/b/c.md", is_dir=False) and rules.ignored("docs/c.md", is_dir=False)
    assert not rules.ignored("index.py", is_dir=False)


def test_fcignore_keeps_all_of_function_but_foreign_bytecode() -> None:
    kept = {p.relative_to(FUNCTION).as_posix() for p in walk(FUNCTION, IgnoreRules.load(FUNCTION / ".fcignore"))}
    for needed in (
        "index.py",
        "bootstrap",
        "ossfaces/pipeline.py",
        "ossfaces/runtime_api.py",
        "ossfaces/invocation.py",
    ):
        assert needed in kept
    assert not [p for p in kept if p.endswith((".pyc", ".pyo")) and not p.endswith(".cpython-310.pyc")]
    if (FUNCTION / "models").is_dir():
        assert any(path.startswith("models/") for path in kept)


def test_py310_check_finds_311_features(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import tomllib\nfrom datetime import UTC\nimport datetime\nnow = datetime.UTC\nfrom typing import Self\n"
        "try:\n    pass\nexcept* ValueError:\n    pass\n",
        encoding="utf-8",
    )
    problems = "\n".join(py310_problems([bad], tmp_path))
    for feature in ("tomllib", "datetime.UTC", "typing.Self", "except*"):
        assert feature in problems
    good = tmp_path / "good.py"
    good.write_text("import datetime\nnow = datetime.timezone.utc\n", encoding="utf-8")
    assert py310_problems([good], tmp_path) == []


def test_deployed_code_is_python310_compatible() -> None:
    rules = IgnoreRules.load(FUNCTION / ".fcignore")
    code = [p for p in walk(FUNCTION, rules, skip_top={"python"}) if p.suffix == ".py" or p.name == "bootstrap"]
    assert py310_problems(code, FUNCTION) == []
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--target-version", "py310", "--select", "E9,F63,F7,F82",
         *map(str, code)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.network
def test_package_builds_a_complete_bundle(tmp_path: Path) -> None:
    output = tmp_path / "ossfaces-fc.zip"
    result = CliRunner().invoke(main, ["package", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "MiB unzipped" in result.output and "MiB through the console" in result.output
    with zipfile.ZipFile(output) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    names = set(infos)
    for needed in ("index.py", "bootstrap", "ossfaces/pipeline.py", "ossfaces/runtime_api.py", "python/oss2/__init__.py",
                   "python/crcmod/__init__.py", "python/pydantic/__init__.py"):  # fmt: skip
        assert needed in names, needed
    assert stat.S_IMODE(infos["bootstrap"].external_attr >> 16) & 0o111, "bootstrap lost its executable bit"
    assert any(n.startswith("python/numpy/") and n.endswith(".cpython-310-x86_64-linux-gnu.so") for n in names)
    assert "python/onnxruntime/__init__.py" in names
    left_out = ("python/sympy/", "python/mpmath/", "python/coloredlogs/", "python/flatbuffers/", "python/google/")
    assert not [n for n in names if n.startswith(left_out)], "onnxruntime's tool-only dependencies shipped"
    assert not any(".cpython-311" in n or ".cpython-312" in n for n in names), "wheels for the wrong Python"
    assert not any(n.startswith("python/crcmod/_crcfunext") for n in names), "crcmod must be the pure-Python build"
    own = {n.split("/")[0] for n in names if not n.startswith("python/")}
    assert own <= {"index.py", "bootstrap", "ossfaces", "models", "__pycache__", ".fcignore"}, own
    # FC's /code is read-only: each module ships its CPython 3.10 bytecode, and no other Python's.
    assert "bytecode: " in result.output and "compiled by CPython 3.10." in result.output
    cached = {n for n in names if "/__pycache__/" in f"/{n}"}
    assert not any(".cpython-311" in n for n in cached), "this machine's bytecode shipped"
    for module in [n for n in names if n.endswith(".py")]:
        folder, _, file = module.rpartition("/")
        pyc = f"{folder}/__pycache__/{file[:-3]}.cpython-310.pyc".lstrip("/")
        assert pyc in cached, module
    with zipfile.ZipFile(output) as archive:
        assert archive.read("ossfaces/__pycache__/pipeline.cpython-310.pyc")[:4] == b"o\r\r\n"  # 3.10's magic
    assert "ossfaces/vision/models.py" in names and not any(n.endswith("convert.py") for n in own)
    with zipfile.ZipFile(output) as archive:
        code = [archive.read(n).decode("utf-8") for n in own if n.endswith(".py")]
    assert not [c for c in code if any(setup in c for setup in SETUP_ONLY_CODE)], "set-up code (onnx/h5py) shipped"
    if (FUNCTION / "models").is_dir() and any((FUNCTION / "models").iterdir()):
        assert any(n.startswith("models/") for n in names)
    assert output.stat().st_size < 500 * 1024 * 1024


BLOCKED_RUN = """
import sys
blocked = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked or name.startswith("google.protobuf"):
            raise ImportError(f"{{name}} is not in the bundle")
sys.meta_path.insert(0, Block())
sys.path.insert(0, {function!r})
import numpy as np, skimage.data, io
from PIL import Image
from ossfaces.vision import FaceAnalyzer
buf = io.BytesIO()
Image.fromarray(np.asarray(skimage.data.astronaut())).save(buf, "JPEG")
faces = FaceAnalyzer.load(threads=1).analyze(buf.getvalue()).faces
print(len(faces), "Embedding" in faces[0])
"""


def test_the_engine_runs_without_the_dependencies_the_bundle_leaves_out() -> None:
    """``ossfaces package`` leaves out what onnxruntime declares but only its tools import (``UNUSED_AT_RUN_TIME``):
    the engine loads and analyses a photo with every one of them unimportable."""
    blocked = {"sympy", "mpmath", "coloredlogs", "humanfriendly", "flatbuffers"}
    assert set(UNUSED_AT_RUN_TIME) == blocked | {"protobuf"}
    code = BLOCKED_RUN.format(blocked=sorted(blocked), function=str(REPO / "function"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "True"]


FUN_IGNORE = """
const path = require("node:path");
const { isIgnored } = require(process.argv[1]);
(async () => {
  const [repo, files] = [process.argv[2], JSON.parse(require("node:fs").readFileSync(0, "utf8"))];
  const ignored = await isIgnored(repo, "custom");
  process.stdout.write(JSON.stringify(files.filter((f) => !ignored(path.join(repo, f)))));
})();
"""


def test_fun_uploads_what_ossfaces_package_keeps(fun: Fun) -> None:
    """fun reads ``.funignore`` beside template.yml, not ``function/.fcignore``: run fun's own ignore code over every
    file of function/ and compare with what ``.fcignore`` keeps (before .funignore existed, fun uploaded the tools,
    the commands, the local stack and this machine's bytecode)."""
    assert (REPO / ".funignore").read_text(encoding="utf-8") == funignore_text(
        (FUNCTION / ".fcignore").read_text(encoding="utf-8"), "function"
    )
    files = sorted(
        str(Path(dirpath, name).relative_to(REPO))
        for dirpath, _, names in os.walk(FUNCTION, followlinks=True)
        for name in names
    )
    ignore_js = FUN_CACHE / "node_modules" / "@alicloud" / "fun" / "lib" / "package" / "ignore.js"
    done = subprocess.run(
        ["node", "-e", FUN_IGNORE, str(ignore_js), str(REPO)],
        input=json.dumps(files), capture_output=True, text=True, check=True, cwd=FUN_CACHE,
    )  # fmt: skip
    uploaded = set(json.loads(done.stdout))
    kept = {str(p.relative_to(REPO)) for p in walk(FUNCTION, IgnoreRules.load(FUNCTION / ".fcignore"))}
    assert uploaded == kept, (sorted(uploaded - kept)[:10], sorted(kept - uploaded)[:10])
    assert "function/index.py" in uploaded
