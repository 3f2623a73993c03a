"""``ossfaces stats`` says what its numbers can be trusted for: UNKNOWN genders, the engine's held-out figures from the
shipped calibration file and the population they hold for (or that there are none), and the age spread by AgeSD."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oss2
import pytest
from click.testing import Result
from PIL import Image
from rich.console import Console

from ossfaces.document import EngineInfo, Face, FacesDocument, SourceInfo
from ossfaces.vision.calibration import Calibration, load_calibration
from ossfaces_localstack.oss import LocalOss
from ossfaces_localstack.stack import LocalStack
from ossfaces_tools.report.html import render_html
from ossfaces_tools.report.table import print_table
from ossfaces_tools.report.trust import trust_statement
from ossfaces_tools.stats import AgeBins, StatsAccumulator

from .synthetic import upload

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_calibration()
LOCAL = f"0.1.0+models.abc+calib.{SHIPPED.digest}"


def doc(key: str, version: str, faces: list[Face], name: str = "local") -> FacesDocument:
    return FacesDocument(
        Source=SourceInfo(Bucket="b", Key=key), Engine=EngineInfo(Name=name, Version=version), Faces=faces
    )


def face(age: int | None, sd: float | None = None, gender: str | None = None) -> Face:
    return Face(
        Age=age,
        AgeSD=sd,
        Gender=gender,
        FaceAttributes={"FaceBoundary": {"Left": 0, "Top": 0, "Width": 9, "Height": 9}},
    )


def accumulated() -> StatsAccumulator:
    acc = StatsAccumulator(AgeBins([0, 13, 18, 65]))
    acc.add("a.jpg", doc("a.jpg", LOCAL, [face(8, 3.0), face(40, 6.0, "FEMALE"), face(30, None, "MALE")]))
    acc.add("b.jpg", doc("b.jpg", "0.1.0+models.abc+calib.000000000000", [face(70, 5.0, "MALE")]))
    acc.add("c.jpg", doc("c.jpg", "imm/detectface@v1", [face(None)], name="imm"))
    return acc


def test_age_spread_keeps_every_face_and_spreads_by_agesd() -> None:
    bins = AgeBins([0, 13, 18, 65])
    assert sum(bins.spread(30, 8.0).values()) == pytest.approx(1.0)
    assert bins.spread(30, None) == {"18-64": 1.0} and bins.spread(30, 0.0) == {"18-64": 1.0}
    near_edge = bins.spread(12, 2.0)
    assert 0.3 < near_edge["13-17"] < 0.6 and near_edge["0-12"] > 0.4  # a face written 12 with spread 2 straddles 13
    totals = accumulated().report().overall.to_dict(bins)
    assert sum(totals["ages_spread"].values()) == pytest.approx(4.0, abs=0.01)  # four faces with an Age
    assert totals["ages"]["UNKNOWN"] == 1 and totals["ages_spread"]["0-12"] < 1.0  # the 8-year-old (sd 3) leaks over 13


def test_engines_are_counted_and_matched_to_the_shipped_calibration() -> None:
    trust = trust_statement(accumulated().report())
    assert trust["documents"] == {"this_calibration": 1, "other_calibration": 1, "other_engines": 1}
    assert trust["calibration_digest"] == SHIPPED.digest


def test_the_shipped_file_is_quoted_with_its_holdout_figures_and_population() -> None:
    trust = trust_statement(accumulated().report())
    assert trust["validated"] is True and trust["validation"]["split"] == "holdout"
    text = " ".join(trust["lines"])
    assert "counted as UNKNOWN" in text and "under 13" in text and "product decision" in text
    line = trust["lines"][1]
    figures = SHIPPED.validation["figures"] if SHIPPED.validation else {}
    adult = figures["gender"]["estimated_13_plus"]
    assert f"{100 * adult['accuracy_where_written']:.1f} %" in line and "held-out faces" in line
    assert "mostly adults" in line and "split holdout" in line and "fairface540" in line
    assert "Congress portraits" in line and "1.645 AgeSD" in line and "smiling faces called HAPPY" in line
    assert "fitted so that about 90 %" in trust["lines"][3]


def unvalidated() -> Calibration:
    document = copy.deepcopy(dict(SHIPPED.document))
    document["validation"] = None
    return Calibration.from_document(document)


def test_a_validation_block_is_quoted_only_for_its_own_calibration() -> None:
    report = accumulated().report()
    document = copy.deepcopy(dict(SHIPPED.document))
    document["validation"]["calibration_digest"] = "ffffffffffff"
    stale = trust_statement(report, Calibration.from_document(document))
    assert stale["validated"] is False and "not validated" in stale["lines"][1]
    none = trust_statement(report, unvalidated())
    assert none["validated"] is False and "not validated on licensed data" in none["lines"][1]
    assert "not calibrated against its errors" in none["lines"][3]


def test_table_and_html_carry_the_statement_and_the_spread() -> None:
    report = accumulated().report()
    buffer = io.StringIO()
    print_table(report, Console(file=buffer, width=200))
    table = buffer.getvalue()
    assert "spread by AgeSD" in table and "counted as UNKNOWN" in table and "held-out faces" in table
    page = render_html(report)
    assert '<section id="trust" data-validated="true"' in page and "held-out faces" in page
    assert 'data-metric="ages_spread" data-category="18-64"' in page


CLI = Callable[..., Result]


def test_command_json_keeps_the_statement(local_oss: LocalOss, oss_bucket: oss2.Bucket, cli: CLI) -> None:
    upload(oss_bucket)
    env: dict[str, Any] = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": local_oss.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": local_oss.access_key_secret,
    }
    args = ["stats", "test-bucket", "--region", local_oss.region, "--oss-endpoint", local_oss.endpoint, "--no-progress"]
    result = cli([*args, "--json"], env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["trust"]["validated"] is True and report["trust"]["documents"]["other_engines"] == 5
    assert report["trust"]["validation"]["figures"]["gender"]["estimated_13_plus"]["n"] > 0
    assert report["overall"]["engines"] == {"imm/imm/detectface@v1": 5}  # the 8 documents less the 3 error documents
    assert "counted as UNKNOWN" in result.stderr  # the table (and its notes) goes to stderr with --json


def test_results_of_the_local_stand_in_for_imm_are_the_local_engines(tmp_path: Path, cli: CLI) -> None:
    """`ossfaces up` and the demo run engine imm against the local stack, whose imm/detectface is the local engine:
    those documents say so, and the statement counts them under the local engine's calibration, not as IMM's. Error
    documents hold no figures: they are counted apart (errors), not by engine."""
    from skimage import data

    with LocalStack(tmp_path / "stack", project_dir=ROOT, fc_port=None, fsync=False) as stack:
        oss = stack.oss
        bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket)
        photo = io.BytesIO()
        Image.fromarray(data.astronaut()).save(photo, "JPEG")
        bucket.put_object("photos/astronaut.jpg", photo.getvalue())
        bucket.put_object("photos/broken.jpg", photo.getvalue()[:2000])  # an error document: no numbers from it
        assert stack.wait_idle(60)
        document = json.loads(bucket.get_object("photos/astronaut.jpg.faces.json").read())
        env = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret,
        }
        result = cli(["stats", stack.bucket, "--oss-endpoint", oss.endpoint, "--no-progress", "--json"], env)
    assert result.exit_code == 0, result.stderr
    assert document["Engine"]["Name"] == "imm" and document["LocalStandIn"].endswith(f"+calib.{SHIPPED.digest}")
    trust = json.loads(result.stdout)["trust"]
    assert trust["documents"] == {"this_calibration": 1, "other_calibration": 0, "other_engines": 0}
    assert "IMM's models" not in result.stderr and "local stack's imm/detectface" in result.stderr
