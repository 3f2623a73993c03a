"""``python -m ossfaces_tools.calibrate``: the calibration fitter's command (:mod:`ossfaces_tools.calibration.cli`)."""

from ossfaces_tools.calibration.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
