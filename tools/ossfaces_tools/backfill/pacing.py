"""How fast a backfill may go and how long it will take, said before it starts.

The ceilings are quotas, not code (research imm-v2-people-scale.md §6): FC runs at most 100 instances per region by
default (Quota Center decides), and throttled async invocations are retried for hours, so dumping millions at once
ages events out; IMM v2 answers 100 queries per second per project by default. ``--rate`` paces the invocations at
the ceiling the user has; the estimate below is what that rate means for the bucket.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

FC_INSTANCES = 100
IMM_QPS = 100


def inventory_rows(report_bucket: Any, manifest: Any) -> int:
    """Objects in an inventory report: its data files' lines, counted without parsing them (checked like any read)."""
    from ossfaces_tools.inventory import InventoryError

    rows = 0
    for data in manifest.files:
        raw: bytes = report_bucket.get_object(data.key).read()
        try:
            rows += gzip.decompress(raw).count(b"\n")
        except (OSError, EOFError, zlib.error) as exc:
            raise InventoryError(
                f"oss://{report_bucket.bucket_name}/{data.key}: not a readable gzipped CSV ({exc})"
            ) from None
    return rows


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    hours, rest = divmod(int(seconds), 3600)
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60:02d} min"


def estimate(objects: int, rate: float | None, batch: int, engine: str) -> str:
    """One line: how long handing over ``objects`` takes at ``rate`` invocations/s (an upper bound: every object a
    photo that needs work), and what caps the rate."""
    ceiling = (f"IMM v2 answers {IMM_QPS} queries/s per project by default" if engine == "imm2"
               else f"FC runs {FC_INSTANCES} instances per region by default")  # fmt: skip
    if not rate:
        return f"{objects} objects to look at, unpaced: pass --rate (a ceiling: {ceiling}; raise it by ticket)"
    photos_per_s = rate * batch
    return (f"{objects} objects to look at: at most {duration(objects / photos_per_s)} at --rate {rate:g} "
            f"x --batch {batch} = {photos_per_s:g} photos/s ({ceiling})")  # fmt: skip
