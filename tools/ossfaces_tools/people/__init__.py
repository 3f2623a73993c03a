"""``ossfaces people``: faces clustered into people across a prefix, incrementally, with stable ids (issue 10).

:mod:`.faces` (faces from results) → :mod:`.cluster` (the density-based clustering) → :mod:`.model` (the people
file's update, edits, per-person figures) → :mod:`.state` (the file in the bucket, saved conditionally) →
:mod:`.service` (the command's OSS side) and :mod:`.page` (the HTML page).
"""
