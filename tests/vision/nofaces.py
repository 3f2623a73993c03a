"""Real photos of animals and objects, without people, that the face detector is tempted by (issue 11 item 8).

Source: Debian's ``tuxpaint-stamps-default`` 2022.06.04-1 (Tux Paint's stamp collection; Debian copyright file:
``Files: *  Copyright: 2002-2022 Bill Kendrick, License: GPL-2``). Most of its animal, vehicle and hobby stamps are
photographs cut out on a transparent background. They are fetched at test time with ``apt-get download`` (the package
pinned by version and its ``.deb`` by sha-256, each photo by the sha-256 of its file), cached in
``.cache/testphotos/nofaces/`` (git-ignored) and never committed: GPL-2 lets anyone use them, the project does not
redistribute them. The ``.deb`` (about 210 MB) is deleted once the photos are extracted.

``TRIGGERS`` are the stamps on which engine revision 2 reported a face (YuNet score 0.62-0.77); ``CONTROLS`` are more
animal photos (dogs, cats, apes, ...) on which it reported none at their own size: with the generated 0.5x and 2x
versions (:func:`scaled_versions`) they make the "photos without people" set of the false-positive test and
``benchmarks/eval_engine.py --false-positives``.

``grace_hopper.jpg`` (matplotlib's sample data, a US Navy portrait, public domain) is a real face from a pinned wheel
already installed for the tests (matplotlib in requirements-dev.txt).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ossfaces.vision.models import sha256_file

from .photos import CACHE_DIR, fetching


class PhotoSourceUnavailable(RuntimeError):
    """The Debian package cannot be downloaded here (no apt, or no package lists: run ``apt-get update``)."""


@dataclass(frozen=True)
class DebianPackage:
    """One pinned Debian package that carries test photos."""

    name: str
    version: str
    deb: str
    sha256: str
    licence: str


TUXPAINT_STAMPS = DebianPackage(
    "tuxpaint-stamps-default",
    "2022.06.04-1",
    "tuxpaint-stamps-default_2022.06.04-1_all.deb",
    "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34",
    "GPL-2",
)
STAMPS = "usr/share/tuxpaint/stamps/"

TRIGGERS: dict[str, str] = {
    "animals/mammals/bears/european-bear.png": "bab9ff97e54a0a1961c7411f701f8f156b1d353a5e86cf85c6bc675aea8a32ff",
    "animals/mammals/cats/tiger_sumatran.png": "0b80b05c2920d0dbe788c377149a9d0ba19b63ef5ea809e1234ab837f5c48af6",
    "animals/mammals/apes/chimp.png": "1103c68ddc42cd3b36c7c96020e844a7c1d4fc7dba8132b408263c3038b8f72f",
    "animals/mammals/bears/toys/edward_bear.png": "aabc84e7655b26a8e48ef7b2646be7e0d4b5af33e7cc4f517ca940106aed9424",
    "hobbies/camera_35mm.png": "d4c635621eb8fb687879660b105a66e970cc87b72edbec048ea98fd080368a05",
    "vehicles/wheel_tractor.png": "0a094a7f4e35091abf7bf431fa927f2339d2a17e613ed84efc823aa283ea9a65",
    "vehicles/construction/dumper_mirror.png": "0a64412cab79b1f61f57e6cfd82130e1624b8b257c54c3805e94d46c3031794f",
}
CONTROLS: dict[str, str] = {
    "animals/mammals/dogs/dog.png": "63b3906f5b3cfcb406d8cf99ea0252a84d2d2b60795b5e275c0b4f2b9985b71a",
    "animals/mammals/dogs/dingo.png": "665de674b6adc0b89437cfa4e6635fcce180e4725367592383848d1f3e345484",
    "animals/mammals/dogs/fox.png": "d754bb3b88fc6e27c454e8880c62ba8fb84b3db7d37948209ca8b445be7d6cea",
    "animals/mammals/cats/lion.png": "79ef5635d7a2a5c865017ce92a7cc0704468e2c5220b8fa588e1be5385fb120e",
    "animals/mammals/cats/lion-2.png": "f608afc9531257d9322d80a609094abe5827351973cdc08e0fecd1cd2cb76788",
    "animals/mammals/cats/tiger.png": "699baad06e31c6274fc7bb576953dc0f66a6677a8286daefbdf454cf7b7395d6",
    "animals/mammals/apes/gorilla.png": "a9b45cb2f0acae32161d3ab45505219c6083a18e9412e5439cdd104fcbb53a85",
    "animals/mammals/apes/tamarin_emperor.png": "343306d0dcdb3db1aac59692e3a4c30960bc3d5c9a599c4b1356e84d612c4013",
    "animals/birds/rooster.png": "f8e0caa20436484d76512417cb6c1b1a8d3f631da26350de4f3666526790fbe6",
    "animals/mammals/hippopotamus.png": "3ed404f03c93de77bf1728faa208cc54681beef84f51ebda7689b916d51b3b94",
    "animals/mammals/pig_golden2.png": "24e5e786150629381fb66a6efbbebad1d893efbdbae331fb245b832a1b37b07f",
    "animals/mammals/rabbit_little.png": "8c0e6c852e4a62bc7a80834edf9003323853d7d5a67981e7c8fb179afe93cf39",
    "animals/mammals/bears/bear.png": "aba4c267dac9003ba033fb0e6e7f09ed43b10e38ec625e5c2d6b67196e182c7f",
    "animals/mammals/bovines/gnu-baby.png": "832582f35b7568b2c5f1f13f181833d039d2708b4d26b9c9c5851699d3da8951",
    "animals/mammals/deer/deer.png": "e620c6ba979e0c73536db240b9c4fd72541aad67674b4e9ad037aab0024c0844",
}
SCALES = (0.5, 2.0)
"""Each stamp is also tried at these sizes, pasted on a light grey card (``scaled_versions``)."""

GRACE_HOPPER_SHA256 = "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"


def _download_deb(package: DebianPackage, dest: Path) -> Path:
    deb = dest / package.deb
    if not deb.is_file():
        if shutil.which("apt-get") is None:
            raise PhotoSourceUnavailable("apt-get is not available")
        proc = subprocess.run(
            ["apt-get", "download", "-qq", f"{package.name}={package.version}"],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0 or not deb.is_file():
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
            raise PhotoSourceUnavailable(
                f"apt-get download {package.name}={package.version} failed (run apt-get update first?): {tail}"
            )
    got = sha256_file(deb)
    if got != package.sha256:
        deb.unlink()
        raise RuntimeError(f"{package.deb} has sha-256 {got}, expected {package.sha256}; refusing to use it")
    return deb


def fetch_stamps(cache_dir: Path | None = None) -> dict[str, Path]:
    """Stamp path (as in ``TRIGGERS``/``CONTROLS``) -> verified file in the cache. Downloads and unpacks the ``.deb``
    only when a photo is missing; PhotoSourceUnavailable when apt cannot fetch it."""
    root = (cache_dir or CACHE_DIR) / "nofaces"
    with fetching(root):
        return _fetch_stamps(root)


def _fetch_stamps(root: Path) -> dict[str, Path]:
    wanted = TRIGGERS | CONTROLS
    out = {name: root / name.replace("/", "__") for name in wanted}
    missing = {name for name, path in out.items() if not (path.is_file() and sha256_file(path) == wanted[name])}
    if not missing:
        return out
    deb = _download_deb(TUXPAINT_STAMPS, root)
    with (
        subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as dpkg,
        tarfile.open(fileobj=dpkg.stdout, mode="r|") as tar,
    ):
        for member in tar:
            name = member.name.removeprefix("./").removeprefix(STAMPS)
            if name not in missing or not member.isfile():
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            data = fh.read()
            if sha256_digest(data) != wanted[name]:
                raise RuntimeError(f"{name} in {deb.name} does not have the pinned sha-256")
            fd, tmp = tempfile.mkstemp(dir=root, prefix=".part-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            Path(tmp).replace(out[name])
            missing.discard(name)
    dpkg.wait()
    if missing:
        raise RuntimeError(f"not in {deb.name}: {sorted(missing)}")
    deb.unlink()
    return out


def sha256_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def scaled_versions(path: Path) -> dict[str, bytes]:
    """The stamp as uploaded (PNG with alpha, the engine's own decoding) and, per ``SCALES``, resized (Lanczos) and
    pasted on a light grey card 20 px larger on each side, as JPEG q=92."""
    out = {"1x": path.read_bytes()}
    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    for k in SCALES:
        size = (max(8, int(rgba.width * k)), max(8, int(rgba.height * k)))
        small = rgba.resize(size, Image.Resampling.LANCZOS)
        card = Image.new("RGB", (size[0] + 40, size[1] + 40), (200, 200, 200))
        card.paste(small, (20, 20), small)
        buf = io.BytesIO()
        card.save(buf, "JPEG", quality=92)
        out[f"{k:g}x"] = buf.getvalue()
    return out


def grace_hopper() -> bytes:
    """matplotlib's ``grace_hopper.jpg`` (one frontal face), checked against its pinned digest."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    data = path.read_bytes()
    if sha256_digest(data) != GRACE_HOPPER_SHA256:
        raise RuntimeError(f"{path} is not the pinned grace_hopper.jpg (matplotlib version changed?)")
    return data
