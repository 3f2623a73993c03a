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
        f"SELECT {folder} AS folder, status, error, engine, faces > 0 AS with_faces, count(*) FROM photos GROUP BY ALL"
    ).fetchall()
    for group, status, error, engine, with_faces, n in photo_rows:
        for t in totals(group):
            if status == "unreadable":
                t.unreadable += n
                continue
            t.documents += n
            t.engines[engine] += n
            if status == "error":
                t.errors[error] += n
            else:
                t.images += n
                t.images_with_faces += n if with_faces else 0
    gender = f"CASE WHEN gender IN ({', '.join(repr(g) for g in GENDERS)}) THEN gender ELSE '{UNKNOWN}' END"
    face_rows = con.execute(
        f"SELECT {folder} AS folder, age, {gender} AS g, coalesce(emotion, '{UNKNOWN}') AS e, count(*) FROM faces "
        "WHERE face IS NOT NULL GROUP BY ALL"
    ).fetchall()
    b = acc.bins
    for group, age, g, e, n in face_rows:
        label = b.labels[b.index(age)] if age is not None and age >= 0 else UNKNOWN
        for t in totals(group):
            t.faces += n
            t.genders[g] += n
            t.ages[label] += n
            t.pyramid[(label, g)] += n
            t.emotions[e] += n
    spread_rows = con.execute(
        f"SELECT {folder} AS folder, age, age_sd, count(*) FROM faces WHERE face IS NOT NULL AND age >= 0 "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    for group, age, sd, n in spread_rows:
        shares = b.spread(age, sd)
        for t in totals(group):
            for label, share in shares.items():
                t.ages_spread[label] = t.ages_spread.get(label, 0.0) + share * n
    return acc


def run_query(con: Any, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The user's SQL over the views ``faces`` and ``photos``: column names and rows."""
    result = con.execute(sql)
    columns = [d[0] for d in result.description] if result.description else []
    rows = result.fetchmany(limit) if limit else result.fetchall()
    return columns, rows
