"""One ``ossfaces index`` or ``ossfaces query`` as the user asked for it: open the bucket, the inventory, the fan-out;
print what was read (only the new or changed results) and how long the rest would take."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from ossfaces_tools.access import BucketAccess, ToolError
from ossfaces_tools.index.build import BuildOptions, BuildSummary, build_index
from ossfaces_tools.index.fanout import Fanout, FcFanout, LocalPool
from ossfaces_tools.index.layout import IndexStore
from ossfaces_tools.inventory import open_for


@dataclass(frozen=True)
class IndexRequest:
    access: BucketAccess
    prefix: str = ""
    inventory: str | None = None
    workers: int = 2
    chunk: int = 500
    rate: float | None = None
    fc_endpoint: str = ""
    service: str = ""
    function: str = ""
    qualifier: str | None = None
    wait: float = 3600.0
    compact: bool = False
    as_json: bool = False
    progress: bool = True


def _fanout(request: IndexRequest) -> Fanout:
    if not request.fc_endpoint:
        return LocalPool(request.access, request.workers)
    if not (request.service and request.function):
        raise ToolError("--fc-endpoint needs --service and --function", usage=True)
    from ossfaces_tools.backfill.dispatch import FcDispatcher, fc_client

    a = request.access
    client = fc_client(request.fc_endpoint, a.access_key_id, a.access_key_secret, a.security_token)
    return FcFanout(FcDispatcher(client, request.service, request.function, request.qualifier))


def run_index(request: IndexRequest, out: TextIO | None = None) -> int:
    from rich.console import Console

    out = out or sys.stdout
    access = request.access
    access.require_credentials()
    settings = access.settings()
    bucket = access.open(settings)
    err = Console(stderr=True)
    inventory = open_for(access, bucket, request.inventory)
    if inventory is not None:
        err.print(
            f"inventory oss://{inventory[1].bucket}/{inventory[1].key} ({inventory[1].objects_hint})", highlight=False
        )
    options = BuildOptions(chunk=request.chunk, rate=request.rate, wait=request.wait, inventory=inventory)
    fanout = _fanout(request)
    summary = build_index(bucket, request.prefix, settings.result_suffix, fanout, options,
                          lambda line: err.print(line, highlight=False) if request.progress else None)  # fmt: skip
    compacted = None
    if request.compact:
        from ossfaces_tools.index.compact import compact

        compacted = compact(IndexStore(bucket, request.prefix))
    print_summary(err, summary, fanout.mode, compacted)
    if request.as_json:
        out.write(json.dumps({**summary.as_dict(), "mode": fanout.mode, "compacted": compacted}) + "\n")
    return 0


def print_summary(console: Any, s: BuildSummary, mode: str, compacted: dict[str, int] | None) -> None:
    from rich.table import Table

    table = Table(title=f"index ({mode})", show_header=False)
    rows: list[tuple[str, object]] = [
        ("results listed", s.listed), ("photos indexed before", s.indexed_before),
        ("read (new or changed)", s.read), ("superseded (changed or gone)", s.superseded),
        ("parts written", s.parts_written), ("rows (faces, or photos without one)", s.rows),
        ("generation", s.generation), ("elapsed", f"{s.elapsed:.2f} s"), ("read rate", f"{s.rate:.0f} results/s"),
    ]  # fmt: skip
    rows += [("repaired", r) for r in s.repaired]
    if s.resumed:
        rows.append(("resumed", "yes: parts of the interrupted run were reused"))
    if compacted:
        rows += [("compacted", f"{compacted['parts_before']} parts -> {compacted['parts_after']}")]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)


def run_sql(access: BucketAccess, prefix: str, sql: str, limit: int | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    from ossfaces_tools.index.local import IndexReader
    from ossfaces_tools.index.query import run_query

    access.require_credentials()
    store = IndexStore(access.open(), prefix)
    manifest = store.load()
    if manifest.generation == 0:
        raise ToolError(f"no face index under oss://{access.bucket}/{store.root}: run `ossfaces index` first")
    with IndexReader(store, manifest) as reader:
        try:
            return run_query(reader.con, sql, limit)
        except duckdb.Error as exc:
            raise ToolError(f"query: {str(exc).splitlines()[0]}") from exc
