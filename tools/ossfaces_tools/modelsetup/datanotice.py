"""The part of NOTICE about data: the labelled sets the shipped calibration was fitted on, with the attributions their
licences ask for (CC BY 4.0). Read from ``calibration.json``'s ``data`` block, which the fitter writes
(``ossfaces_tools.calibration.fit.data_block``), so NOTICE names exactly the data behind the numbers that ship."""

from __future__ import annotations

from ossfaces.vision.calibration import load_calibration


def calibration_data_notice() -> list[str]:
    """NOTICE lines for the shipped calibration's data sets (none when it was fitted on nothing)."""
    data = load_calibration().document.get("data") or []
    if not data:
        return []
    lines = [
        "Numbers fitted on third-party data (function/ossfaces/vision/calibration.json: the age map, AgeSD, gender",
        "thresholds and the emotion prior). The photos are not in this repository or the bundle; only fitted numbers are.",
        "",
    ]
    for d in data:
        lines += [
            f"{d['name']}",
            f"  licence:     {d['licence']}",
            f"  source:      {d['source']}",
            f"  attribution: {d['attribution']}",
            "",
        ]
    return lines
