"""Age, gender and emotion figures of the local engine on labelled real photos, one column per calibration.

Run (the licensed sets, holdout only; docs/calibration.md):

    .venv/bin/python benchmarks/eval_attributes.py --data ../shared/data/licensed-faces --split holdout

or on any labelled manifest (columns in :mod:`ossfaces_tools.calibration.labels`): ``eval_attributes.py MANIFEST``.
The REAL engine runs on each photo's bytes (``FaceAnalyzer.analyze``: decoding and detection included), once per
engine build (raw outputs cached: ``--cache``); each calibration is then applied through the engine's own
``Calibration.face_fields``. ``--calibration both`` (default) prints the engine before calibration (``identity``: raw
age, a gender on every face) and the ``shipped`` file side by side; ``identity``, ``shipped`` or a PATH print one, a
comma-separated list prints one column each (e.g. an earlier file from ``git show`` beside ``shipped``).
The figures (:mod:`ossfaces_tools.calibration.evaluate`): FairFace right bin and error to the bin per bin; exact-age
MAE and bias per band; Congress against its upper-bound ages; AgeSD coverage; gender accuracy where written and
coverage per set, bin and group; the share of smiling and neutral faces called HAPPY.

``--write-metadata`` writes these figures as the shipped file's ``validation`` block (what ``ossfaces stats``
quotes); it refuses data whose licence is off the allow-list and any split the calibration was fitted on. Prints
figures; asserts nothing. A figure is only as good as its labels: say which data it comes from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools")]

from ossfaces.errors import ConfigError  # noqa: E402
from ossfaces.vision.calibration import CALIBRATION_FILE, Calibration, load_calibration  # noqa: E402
from ossfaces_tools.calibration.cli import add_source_arguments, labelled, records_for, write_calibration  # noqa: E402
from ossfaces_tools.calibration.evaluate import evaluate  # noqa: E402
from ossfaces_tools.calibration.fit import validation_block  # noqa: E402
from ossfaces_tools.calibration.labels import (  # noqa: E402
    LicenceRefused,
    ManifestError,
    licence_allowed,
    require_allowed,
)
from ossfaces_tools.calibration.render import render  # noqa: E402


def choices(which: str, shipped_file: Path) -> list[tuple[str, Calibration]]:
    """``identity``, ``shipped``, ``both`` (= identity,shipped) or paths, comma-separated, in the order given."""
    shipped = load_calibration(shipped_file)
    out: list[tuple[str, Calibration]] = []
    for item in ("identity,shipped" if which == "both" else which).split(","):
        if item == "identity":
            out.append(("identity", Calibration.identity()))
        elif item == "shipped":
            out.append((f"shipped {shipped.digest}", shipped))
        else:
            other = load_calibration(Path(item))
            out.append((f"{Path(item).name} {other.digest}", other))
    return out


def fitted_splits(calibration: Calibration) -> set[str]:
    out = set()
    for block in ("age", "gender", "emotion"):
        fitted_on = (calibration.document.get(block) or {}).get("fitted_on")
        if isinstance(fitted_on, dict) and fitted_on.get("split"):
            out.add(str(fitted_on["split"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="attribute figures of the local engine on labelled faces")
    add_source_arguments(parser)
    parser.add_argument("--split", help="only rows of this split (holdout: the figures that may be quoted)")
    parser.add_argument(
        "--calibration", default="both", help="identity | shipped | both | PATH, or several comma-separated (columns)"
    )
    parser.add_argument("--calibration-file", type=Path, default=CALIBRATION_FILE, help="the file 'shipped' means")
    parser.add_argument("--write-metadata", action="store_true", help="write the validation block of the shipped file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    args = parser.parse_args(argv)
    try:
        chosen = choices(args.calibration, args.calibration_file)
        labels = labelled(args)
        if args.write_metadata:
            require_allowed(labels, "write validation figures that ship with the engine")
        records, engine = records_for(labels, args)
    except (ConfigError, ManifestError, LicenceRefused, ValueError, OSError) as exc:
        print(f"eval_attributes: {exc}", file=sys.stderr)
        return 2
    if args.split:
        records = [r for r in records if r.label.split == args.split]
    reports = [(name, evaluate(records, cal)) for name, cal in chosen]
    where = f"split {args.split!r}" if args.split else "all splits"
    if args.json:
        print(json.dumps(dict(reports), indent=2))
    else:
        print(render(reports, f"{', '.join(sorted({r.label.dataset for r in records}))} | {where} | engine {engine}"))
    refused = sorted({r.label.licence or "(none)" for r in records if not licence_allowed(r.label.licence)})
    if refused:
        print(
            f"note: licence {', '.join(refused)} is off the allow-list: these figures are a measurement only; they may"
            " not be published as the engine's validation nor fit anything.",
            file=sys.stderr,
        )
    if args.write_metadata:
        shipped = load_calibration(args.calibration_file)
        splits = fitted_splits(shipped)
        if not args.split or args.split in splits:
            print(
                "eval_attributes: --write-metadata needs --split naming held-out rows (the calibration was fitted on"
                f" {sorted(splits) or 'nothing'})",
                file=sys.stderr,
            )
            return 2
        doc = dict(shipped.document)
        doc["validation"] = validation_block(records, evaluate(records, shipped), shipped.digest, args.split, engine)
        write_calibration(doc, args.calibration_file)
        print(f"wrote the validation block of {args.calibration_file} (calibration {shipped.digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
