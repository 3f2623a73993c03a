"""The face index: Parquet parts in the user's bucket (``<prefix>/.ossfaces/index/``), one row per face, so ``stats``,
``query`` and ``people`` answer from a few columns instead of reading every result document.

:mod:`.layout` (keys and the generation manifest), :mod:`.plan` (what must be read), :mod:`.fanout` (local pool or
FC), :mod:`.build` (one run), :mod:`.local` (parts cached here, DuckDB views), :mod:`.query` (stats and SQL),
:mod:`.compact` (small parts merged). docs/scale.md has the layout, the columns and the figures.
"""
