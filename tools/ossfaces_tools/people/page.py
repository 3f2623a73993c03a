"""``ossfaces people --html``: one card per person, with face thumbnails embedded; a self-contained page.

No scripts and no external URLs (like the stats report). Named people first, then unnamed people by size; hidden people
are left out. ``data-*`` attributes make every number machine-checkable.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone

from ossfaces_tools.people.faces import FaceTable
from ossfaces_tools.people.model import PersonSummary

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222;background:#fafafa}
h1{font-size:1.5rem}.muted{color:#777}.grid{display:flex;flex-wrap:wrap;gap:1rem}
.person{background:#fff;border:1px solid #ddd;border-radius:10px;padding:.8rem;width:260px;box-shadow:0 1px 3px #0001}
.person h2{font-size:1.1rem;margin:.2rem 0 .5rem}.person h2 .id{color:#999;font-weight:normal;font-size:.85rem}
.faces{display:flex;gap:4px;flex-wrap:wrap;min-height:60px}.faces img{width:60px;height:60px;object-fit:cover;border-radius:6px}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .6rem;margin:.5rem 0 0;font-size:.9rem}dt{color:#666}dd{margin:0}
.unnamed h2{color:#666;font-style:italic}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _card(person: PersonSummary, table: FaceTable, thumbs: dict[int, bytes]) -> str:
    images = "".join(
        f'<img alt="face {_e(table.ref(row))}" src="data:image/jpeg;base64,{base64.b64encode(thumbs[row]).decode()}">'
        for row in person.rows
        if row in thumbs
    )
    title = _e(person.name) if person.name else "Unnamed"
    ages = (
        f"{person.age_min:.0f}–{person.age_max:.0f} (median {person.age_median:.0f})"
        if person.age_median is not None and person.age_min is not None and person.age_max is not None
        else "unknown"
    )
    gender = f"{person.gender.lower()} ({100 * person.gender_share:.0f} % of the vote)" if person.gender else "unknown"
    kind = "named" if person.name else "unnamed"
    return (
        f'<section class="person {kind}" data-person="{person.pid}" data-faces="{person.faces}" '
        f'data-photos="{person.photos}">'
        f'<h2>{title} <span class="id">#{person.pid}</span></h2><div class="faces">{images}</div>'
        f"<dl><dt>faces</dt><dd>{person.faces}</dd><dt>photos</dt><dd>{person.photos}</dd>"
        f"<dt>age</dt><dd>{_e(ages)}</dd><dt>gender</dt><dd>{_e(gender)}</dd></dl></section>"
    )


def render_people_html(people: list[PersonSummary], table: FaceTable, thumbs: dict[int, bytes], where: str) -> str:
    shown = [p for p in people if not p.hidden]
    shown.sort(key=lambda p: (p.name is None, -p.faces if p.name is None else 0, (p.name or "").lower(), p.pid))
    cards = "\n".join(_card(p, table, thumbs) for p in shown)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>People in {_e(where)}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<h1>People in {_e(where)}</h1>\n"
        f'<p class="muted">{len(shown)} {"person" if len(shown) == 1 else "people"}; generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by '
        "<code>ossfaces people</code>. Ages and genders are the engine's estimates: the median age of each person's "
        "faces, the gender by a confidence-weighted vote.</p>\n"
        f'<div class="grid">\n{cards}\n</div>\n</body></html>\n'
    )
