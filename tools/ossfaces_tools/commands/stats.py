"""``ossfaces stats``: flags into a :class:`~ossfaces_tools.statsrun.StatsRequest`."""

from __future__ import annotations

from typing import Any

import click

from ossfaces_tools.commands._shared import bucket_access, oss_options, output_option


@click.command()
@oss_options
@click.option("--age-bins", default="0,13,18,25,35,45,55,65", show_default=True, help="Lower edges of the age bins.")
@click.option(
    "--group-by-folder",
    type=click.IntRange(0),
    default=0,
    metavar="DEPTH",
    help="Also report per folder, keyed by the first DEPTH folders of each key.",
)
@click.option("--workers", type=click.IntRange(1, 256), default=16, show_default=True, help="Concurrent reads.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@output_option("--csv", "Write the report as CSV.")
@output_option("--png", "Write the charts as PNG.")
@output_option("--html", "Write a self-contained HTML report.")
@click.option(
    "--by",
    type=click.Choice(["face", "person"]),
    default="face",
    show_default=True,
    help="person: also one vote per person (median age, weighted gender), photos per person, people per photo.",
)
@click.option(
    "--source",
    type=click.Choice(["auto", "index", "scan"]),
    default="auto",
    show_default=True,
    help="index: the face index (ossfaces index); scan: read every result; auto: the index when there is one.",
)
@click.option(
    "--inventory",
    default=None,
    metavar="WHERE",
    help="With the scan: read the results an inventory report names instead of listing (oss://BUCKET/PATH or latest).",
)
def stats(**options: Any) -> None:
    """Age, gender and emotion statistics over every .faces.json under --prefix in BUCKET."""
    from ossfaces_tools.statsrun import StatsRequest, run_stats

    status = run_stats(StatsRequest(bucket_access(options), **options))
    raise SystemExit(status)
