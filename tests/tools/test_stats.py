"""``ossfaces stats``: the pure core on hand-counted documents, then the command against the local OSS."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import oss2
import pytest
from click.testing import Result

from ossfaces_localstack.oss import LocalOss
from ossfaces_tools.stats import AgeBins, StatsAccumulator, folder_of, read_documents

from .synthetic import EXPECTED, EXPECTED_BY_FOLDER, FACES, UNREADABLE, document, upload

CLI = Callable[..., Result]


def accumulate(depth: int = 0, bins: AgeBins | None = None) -> StatsAccumulator:
    acc = StatsAccumulator(bins, depth)
    for key, spec in FACES.items():
        acc.add(key, document(key, spec))
    acc.add_raw(UNREADABLE, b"{not json")
    return acc


def assert_expected(totals: dict[str, object]) -> None:
    for name in ("documents", "images", "images_with_faces", "faces", "error_documents", "unreadable",
                 "genders", "ages", "emotions", "errors"):  # fmt: skip
        assert totals[name] == EXPECTED[name], name
    pyramid = totals["pyramid"]
    assert isinstance(pyramid, dict)
    nonzero = {(a, g): v for a, row in pyramid.items() for g, v in row.items() if v}
    assert nonzero == EXPECTED["pyramid_nonzero"]


def test_age_bins() -> None:
    bins = AgeBins.parse("0,13,18,65")
    assert bins.labels == ("0-12", "13-17", "18-64", "65+")
    assert [bins.labels[bins.index(a)] for a in (0, 12, 13, 64, 65, 120)] == [
        "0-12",
        "0-12",
        "13-17",
        "18-64",
        "65+",
        "65+",
    ]
    later = AgeBins((18, 30))
    assert later.labels == ("<18", "18-29", "30+") and later.labels[later.index(5)] == "<18"
    for bad in ("", "5,5", "10,3", "-1,4"):
        with pytest.raises(ValueError):
            AgeBins.parse(bad)


def test_folder_of() -> None:
    assert (
        folder_of("a/b/c.jpg", 1) == "a" and folder_of("a/b/c.jpg", 2) == "a/b" and folder_of("a/b/c.jpg", 5) == "a/b"
    )
    assert folder_of("c.jpg", 1) == "(root)"


def test_core_totals_are_exact() -> None:
    assert_expected(accumulate().report().to_dict()["overall"])


def test_core_groups_by_folder() -> None:
    groups = accumulate(depth=1).report().to_dict()["groups"]
    assert {name: {k: g[k] for k in ("images", "faces", "error_documents", "unreadable")} for name, g in groups.items()} \
        == EXPECTED_BY_FOLDER  # fmt: skip
    assert groups["home"]["errors"] == EXPECTED["errors"]
    assert accumulate(depth=2).report().groups.keys() == {"(root)", "home", "trip/day1", "trip/day2"}


def test_custom_bins_change_only_the_age_split() -> None:
    totals = accumulate(bins=AgeBins.parse("0,18,60")).report().to_dict()["overall"]
    assert totals["ages"] == {"0-17": 3, "18-59": 3, "60+": 1, "UNKNOWN": 1}
    assert totals["faces"] == EXPECTED["faces"]


def test_csv_and_json_parse_back() -> None:
    report = accumulate(depth=1).report()
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    overall = {(r["metric"], r["category"], r["gender"]): int(r["value"]) for r in rows if r["group"] == "(all)"}
    assert overall[("faces", "", "")] == EXPECTED["faces"]
    assert overall[("errors", "InvalidImage.Corrupt", "")] == 2
    assert overall[("pyramid", "65+", "MALE")] == 1
    assert sum(v for (m, _, _), v in overall.items() if m == "genders") == EXPECTED["faces"]
    assert {r["group"] for r in rows} == {"(all)", "(root)", "home", "trip"}
    assert json.loads(report.to_json())["groups"]["trip"]["faces"] == 5


def test_reading_is_streamed_in_order_with_a_bounded_window(oss_bucket: oss2.Bucket) -> None:
    upload(oss_bucket)
    keys = [key for key, _ in read_documents(oss_bucket, "", ".faces.json", workers=2, window=2)]
    assert keys == sorted([*FACES, UNREADABLE])


def stats_args(local_oss: LocalOss, *extra: str) -> list[str]:
    return ["stats", "test-bucket", "--region", local_oss.region, "--oss-endpoint", local_oss.endpoint,
            "--no-progress", *extra]  # fmt: skip


def env_of(local_oss: LocalOss) -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": local_oss.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": local_oss.access_key_secret}  # fmt: skip


def test_command_over_the_local_oss(local_oss: LocalOss, oss_bucket: oss2.Bucket, cli: CLI, tmp_path: Path) -> None:
    upload(oss_bucket)
    out = {ext: tmp_path / f"report.{ext}" for ext in ("csv", "png", "html")}
    result = cli(stats_args(local_oss, "--json", "--group-by-folder", "1", "--csv", str(out["csv"]),
                            "--png", str(out["png"]), "--html", str(out["html"])), env_of(local_oss))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert_expected(report["overall"])
    assert {n: {k: g[k] for k in EXPECTED_BY_FOLDER["home"]} for n, g in report["groups"].items()} == EXPECTED_BY_FOLDER
    assert "faces in oss://test-bucket/" in result.stderr  # the table goes to stderr when stdout is JSON
    rows = list(csv.DictReader(io.StringIO(out["csv"].read_text(encoding="utf-8"))))
    assert {(r["group"], r["metric"]): r["value"] for r in rows if not r["category"]}[("trip", "faces")] == "5"
    assert out["png"].read_bytes().startswith(b"\x89PNG") and out["png"].stat().st_size > 20_000
    page = out["html"].read_text(encoding="utf-8")
    assert 'data-group="(all)" data-metric="faces">8<' in page and "<svg" in page
    assert re.findall(r"https?://(?!www\.w3\.org/)", page) == []  # self-contained: only XML namespace names
    assert re.findall(r'(?:src|href)="(?!#)', page) == []


def test_prefix_limits_the_documents(local_oss: LocalOss, oss_bucket: oss2.Bucket, cli: CLI) -> None:
    upload(oss_bucket)
    result = cli(stats_args(local_oss, "--json", "--prefix", "trip/", "--age-bins", "0,30"), env_of(local_oss))
    overall = json.loads(result.stdout)["overall"]
    assert (overall["images"], overall["faces"], overall["error_documents"]) == (3, 5, 0)
    assert overall["ages"] == {"0-29": 3, "30+": 2, "UNKNOWN": 0}


def test_terminal_table_and_bad_bins(local_oss: LocalOss, oss_bucket: oss2.Bucket, cli: CLI) -> None:
    upload(oss_bucket)
    table = cli(stats_args(local_oss), env_of(local_oss))
    assert table.exit_code == 0 and "InvalidImage.Corrupt" in table.stdout and "age × gender" in table.stdout
    bad = cli(stats_args(local_oss, "--age-bins", "30,10"), env_of(local_oss))
    assert bad.exit_code == 2 and "--age-bins" in bad.stderr
