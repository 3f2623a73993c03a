"""Questions to the index: ``stats`` (the same numbers as reading every result) and the user's own SQL.

Stats reads only the columns it counts (key for folders, status, error, engine, faces, face, age, age_sd, gender,
emotion), grouped in DuckDB; what is left for Python is a few hundred groups. The rules are the per-result scan's
(:class:`ossfaces_tools.stats.Totals`), written once more in SQL: a test holds the two to the same numbers.
"""

from __future__ import annotations

from typing import Any

from ossfaces_tools.stats import GENDERS, UNKNOWN, AgeBins, StatsAccumulator, Totals

ROOT = "(root)"


def folder_sql(depth: int) -> str:
    """``stats.folder_of(key, depth)`` in SQL: the first ``depth`` folders of the key, ``(root)`` when none."""
    parts = "string_split(key, '/')"
    return (f"coalesce(nullif(array_to_string(list_slice({parts}, 1, least({depth}, len({parts}) - 1)), '/'), ''), "
            f"'{ROOT}')")  # fmt: skip


def index_stats(con: Any, bins: AgeBins | None = None, group_depth: int = 0) -> StatsAccumulator:
    """The accumulator ``stats`` would have after reading every result the index holds."""
    acc = StatsAccumulator(bins, group_depth)
    folder = folder_sql(group_depth) if group_depth else "NULL"

    def totals(group: str | None) -> list[Totals]:
        out = [acc.overall]
        if group_depth and group is not None:
            out.append(acc.groups.setdefault(group, Totals()))
        return out

    photo_rows = con.execute(
        f"SELECT {folder} AS folder, status, error, engine, stand_in, faces, count(*) FROM photos GROUP BY ALL"
    ).fetchall()
    for group, status, error, engine, stand_in, faces, n in photo_rows:
        for t in totals(group):
            if status == "unreadable":
                t.unreadable += n
                continue
            t.documents += n
            if status == "error":
                t.errors[error] += n
            else:
                t.engines[f"{engine} via {stand_in}" if stand_in else engine] += n
                t.images += n
                t.images_with_faces += n if faces else 0
    # One pass over the raw face columns (expressions per row cost 3x the grouping); the rules are applied to the
    # few thousand groups in Python.
    face_rows = con.execute(
        f"SELECT {folder} AS folder, age, age_sd, gender, emotion, count(*) FROM faces WHERE face IS NOT NULL "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    b = acc.bins
    spreads: dict[tuple[int, float | None], dict[str, float]] = {}
    for group, age, sd, gender, emotion, n in face_rows:
        g = gender if gender in GENDERS else UNKNOWN
        e = emotion or UNKNOWN
        known = age is not None and age >= 0
        label = b.labels[b.index(age)] if known else UNKNOWN
        shares = spreads.setdefault((age, sd), b.spread(age, sd)) if known else {}
        for t in totals(group):
            t.faces += n
            t.genders[g] += n
            t.ages[label] += n
            t.pyramid[(label, g)] += n
            t.emotions[e] += n
            for bin_label, share in shares.items():
                t.ages_spread[bin_label] = t.ages_spread.get(bin_label, 0.0) + share * n
    return acc


def run_query(con: Any, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The user's SQL over the views ``faces`` and ``photos``: column names and rows."""
    result = con.execute(sql)
    columns = [d[0] for d in result.description] if result.description else []
    rows = result.fetchmany(limit) if limit else result.fetchall()
    return columns, rows
