"""``ossfaces index`` and ``ossfaces query``: flags into the face index's build and its SQL."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ossfaces_tools.commands._shared import bucket_access, oss_options

INVENTORY_HELP = (
    "Read the results' list from an inventory report instead of listing the bucket: oss://BUCKET/PATH (a "
    "manifest.json, or a folder: its newest report), or 'latest' (the newest report of the bucket's own rules)."
)


@click.command()
@oss_options
@click.option("--inventory", default=None, metavar="WHERE", help=INVENTORY_HELP)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Local pool processes.")
@click.option("--chunk", type=click.IntRange(1, 5000), default=500, show_default=True, help="Results per part.")
@click.option(
    "--rate", type=click.FloatRange(min=0.01), default=None, help="At most this many parts started per second."
)
@click.option(
    "--fc-endpoint", envvar="OSSFACES_FC_ENDPOINT", default="", help="Fan out on FC (with --service, --function)."
)
@click.option("--service", envvar="OSSFACES_FC_SERVICE", default="", help="FC 2.0 service of the deployed function.")
@click.option("--function", "function_name", envvar="OSSFACES_FC_FUNCTION", default="", help="The deployed function.")
@click.option("--qualifier", default=None, help="Version or alias to invoke (default: LATEST).")
@click.option(
    "--wait", type=click.FloatRange(min=0), default=3600.0, show_default=True, help="Seconds to wait for FC's parts."
)
@click.option("--compact", is_flag=True, help="Then merge every part into a few large ones (and drop superseded rows).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def index(function_name: str, **options: Any) -> None:
    """Bring the face index of BUCKET/--prefix up to date: Parquet parts under PREFIX/.ossfaces/index/, reading only
    the results that are new or changed since its manifest."""
    from ossfaces_tools.index.command import IndexRequest, run_index

    access = bucket_access(options)
    request = IndexRequest(access, function=function_name, **options)
    status = run_index(request)
    raise SystemExit(status)


@click.command()
@oss_options
@click.argument("sql")
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON lines on stdout.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many rows.")
def query(sql: str, as_json: bool, limit: int | None, **options: Any) -> None:
    """Run SQL over the face index of BUCKET/--prefix: views `faces` (one row per face) and `photos` (one per photo).

    Example: ossfaces query my-bucket "SELECT emotion, count(*) FROM faces GROUP BY ALL ORDER BY 2 DESC"
    """
    from ossfaces_tools.index.command import run_sql

    options.pop("progress")
    access = bucket_access(options)
    columns, rows = run_sql(access, options["prefix"], sql, limit)
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)
