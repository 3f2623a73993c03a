"""The user's tools: backfill, stats, people, report, demo, packaging and model set-up. Not deployed to FC.

They may import the function's side (events, document, pipeline, settings, storage, engines, vision); the function's
side never imports them. The CLI in :mod:`ossfaces_tools.commands` only translates arguments into calls of these modules.
"""
