"""``python -m ossfaces_tools.calibrate``: fit the shipped calibration on licensed labelled faces (docs/calibration.md).

    python -m ossfaces_tools.calibrate fit --data ../shared/data/licensed-faces     # the four sets, fit → holdout
    python -m ossfaces_tools.calibrate fit MANIFEST.csv                              # any labelled manifest

Runs the real engine over the photos once per engine build (raw outputs cached, :mod:`.engine`), fits on ``fit``
(hyper-parameters by cross-validation inside it), prints the holdout figures of the base file and of the new one
side by side, and writes the file (``--out``, default the shipped ``calibration.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ossfaces.errors import ConfigError
from ossfaces.vision.calibration import CALIBRATION_FILE, Calibration, parameters_digest
from ossfaces_tools.calibration.datasets import SETS, read_sets
from ossfaces_tools.calibration.engine import Record, load_records, run_engine
from ossfaces_tools.calibration.fit import fit
from ossfaces_tools.calibration.labels import LabelledFace, LicenceRefused, ManifestError, read_manifest
from ossfaces_tools.calibration.render import render


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ossfaces" / "calibration"


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say which labelled faces to read and where the engine's raw outputs live."""
    parser.add_argument("manifest", type=Path, nargs="?", help="a labelled manifest (CSV or JSON Lines)")
    parser.add_argument("--data", type=Path, help="the licensed-faces folder (one sub-folder per set)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"sets to read from --data (default {','.join(SETS)})")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="raw engine outputs per engine build")
    parser.add_argument("--raw", type=Path, help="raw records saved earlier (skips the engine: tests, other runs)")
    parser.add_argument("--threads", type=int, default=1)


def labelled(args: argparse.Namespace) -> list[LabelledFace]:
    if (args.manifest is None) == (args.data is None):
        raise ManifestError("give either a MANIFEST or --data DIR")
    if args.data is not None:
        return read_sets(args.data, [s.strip() for s in args.sets.split(",") if s.strip()])
    return read_manifest(args.manifest)


def records_for(labels: Sequence[LabelledFace], args: argparse.Namespace) -> tuple[list[Record], str]:
    """(records, engine key): from ``--raw`` when given (its rows must be these labels), else the engine + cache."""
    if args.raw is not None:
        records = load_records(args.raw)
        if [str(r.label.path) for r in records] != [str(f.path) for f in labels]:
            raise ManifestError(f"{args.raw} was not made from these labels (rows differ): run without --raw")
        return records, f"raw records {args.raw.name}"

    def progress(n: int, total: int) -> None:
        if n % 200 == 0 or n == total:
            print(f"  engine: {n}/{total}", file=sys.stderr)

    return run_engine(labels, cache=args.cache, threads=args.threads, progress=progress)


def write_calibration(doc: dict[str, object], path: Path) -> None:
    """Write the file (checked by parsing it back first) atomically."""
    Calibration.from_document(doc)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ossfaces_tools.calibrate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit on the fit split, validate on holdout, write the calibration file")
    add_source_arguments(f)
    f.add_argument("--fit-split", default="fit")
    f.add_argument("--holdout-split", default="holdout")
    f.add_argument("--base", type=Path, default=CALIBRATION_FILE, help="file whose product decisions are kept")
    f.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args(argv)
    try:
        labels = labelled(args)
        from ossfaces_tools.calibration.labels import require_allowed

        require_allowed(labels, "fit a shipped calibration")
        base = json.loads(args.base.read_text(encoding="utf-8"))
        records, engine = records_for(labels, args)
        outcome = fit(records, base, engine=engine, fit_split=args.fit_split, holdout_split=args.holdout_split)
    except (LicenceRefused, ManifestError, ValueError, OSError, ConfigError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    digest = parameters_digest(outcome.document)
    title = f"held-out split {args.holdout_split!r} | engine {engine}"
    print(render([(f"base {parameters_digest(base)}", outcome.before), (f"fitted {digest}", outcome.after)], title))
    write_calibration(outcome.document, args.out)
    print(f"wrote {args.out} (calibration digest {digest})")
    return 0
