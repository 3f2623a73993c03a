"""Age, gender and emotion figures of the local engine on labelled real photos (issue 8), before and after calibration.

Run: ``.venv/bin/python benchmarks/eval_attributes.py MANIFEST [--split test] [--calibration both]``.

The manifest (CSV or JSON Lines; columns in :mod:`ossfaces_tools.attreval`) names labelled photos. The REAL engine
runs on each file's bytes (``FaceAnalyzer.analyze``: decoding and detection included); the labelled face is the one
containing the row's ``x``/``y`` point, else the largest. The networks' raw outputs are kept, so each calibration is
applied through the engine's own ``Calibration.face_fields`` and one engine run prints:

- age: MAE, mean signed error per band (0-12, 13-19, 20-39, 40-59, 60+), share within 5 years; for binned labels
  (FairFace) bin accuracy, within one bin, and errors against the bin midpoint per band (0-9, 10-19, 20-39, …);
- gender: accuracy where written and coverage (share of faces given a Gender), per band and per labelled group,
  recall per class, and a reliability table (confidence bins against accuracy);
- emotion: accuracy, recall per class, mean per-class recall, confusion matrix.

``--calibration identity`` is the engine before calibration (raw age, a gender on every face), ``shipped`` the
packaged ``calibration.json``, ``both`` (default) prints the two, a path any other file. ``--split test`` keeps the
held-out rows only. ``--write-metadata`` writes the figures of the shipped calibration as its ``validation`` block
(the stats report quotes it); it refuses data whose licence is off the allow-list and the split the calibration was
fitted on. ``--save-raw``/``--raw`` keep or reuse the engine's raw outputs (a FairFace-sized run takes minutes).
Prints figures; asserts nothing. A figure is only as good as its labels: say which data it comes from.
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
from ossfaces_tools.attreval import (  # noqa: E402
    LicenceRefused,
    ManifestError,
    evaluate,
    licence_allowed,
    read_manifest,
    render,
    require_allowed,
)
from ossfaces_tools.calibrate import records_for, validation_block, write_calibration  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="issue 8 attribute figures on a labelled manifest")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--split", help="only rows of this split (e.g. test: the held-out figures)")
    parser.add_argument("--calibration", default="both", help="identity | shipped | both | PATH to a calibration file")
    parser.add_argument(
        "--write-metadata", action="store_true", help="write the validation block of --calibration-file"
    )
    parser.add_argument("--calibration-file", type=Path, default=CALIBRATION_FILE, help="file 'shipped' means")
    parser.add_argument("--raw", type=Path, help="raw engine outputs saved by an earlier run of this manifest")
    parser.add_argument("--save-raw", type=Path, help="save the engine's raw outputs for later runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    args = parser.parse_args(argv)

    choices: list[tuple[str, Calibration]]
    try:
        shipped = load_calibration(args.calibration_file)
        if args.calibration == "both":
            choices = [
                ("identity (before)", Calibration.identity()),
                (f"shipped {args.calibration_file.name} (after)", shipped),
            ]
        elif args.calibration == "identity":
            choices = [("identity", Calibration.identity())]
        elif args.calibration == "shipped":
            choices = [(f"shipped {args.calibration_file.name}", shipped)]
        else:
            choices = [(args.calibration, load_calibration(Path(args.calibration)))]
    except ConfigError as exc:
        print(f"eval_attributes: {exc}", file=sys.stderr)
        return 2

    try:
        labels = read_manifest(args.manifest)
        if args.write_metadata:
            require_allowed(labels, "write validation figures that ship with the engine")
        records = records_for(args.manifest, args.raw, args.save_raw, args.threads)
    except (ManifestError, LicenceRefused, ValueError) as exc:
        print(f"eval_attributes: {exc}", file=sys.stderr)
        return 2
    if args.split:
        records = [r for r in records if r.label.split == args.split]
    refused = sorted({r.label.licence or "(none)" for r in records if not licence_allowed(r.label.licence)})

    datasets = sorted({r.label.dataset for r in records})
    where = f"split {args.split!r}" if args.split else "all splits"
    reports = {}
    for name, calibration in choices:
        report = evaluate(records, calibration)
        reports[name] = report
        if not args.json:
            title = f"{name} | calibration {calibration.digest} | {', '.join(datasets)} | {where}"
            print(render(report, title))
    if args.json:
        print(json.dumps(reports, indent=2))
    if refused:
        print(
            f"note: licence {', '.join(refused)} is off the allow-list: these figures are a measurement only; they may"
            " not be published as the engine's validation nor fit anything.",
            file=sys.stderr,
        )

    if args.write_metadata:
        fitted_splits = set()
        for block in ("age", "gender", "emotion"):
            fitted_on = (shipped.document.get(block) or {}).get("fitted_on")
            if isinstance(fitted_on, dict) and fitted_on.get("split"):
                fitted_splits.add(str(fitted_on["split"]))
        if not args.split or args.split in fitted_splits:
            print(
                f"eval_attributes: --write-metadata needs --split naming held-out rows (the calibration was fitted on"
                f" {sorted(fitted_splits) or 'nothing'})",
                file=sys.stderr,
            )
            return 2
        doc = dict(shipped.document)
        doc["validation"] = validation_block(records, evaluate(records, shipped), shipped.digest, args.split)
        write_calibration(doc, args.calibration_file)
        print(f"wrote the validation block of {args.calibration_file} (calibration {shipped.digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
