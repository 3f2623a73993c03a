"""Defaults shared by the settings and the local engine, in a module that imports nothing: the engine must not pay
for pydantic-settings (about 0.25 s of a cold start) to learn one number."""

DEFAULT_MIN_FACE_PX = 20
"""The one home of the smallest reported face side (the local engine, ``ossfaces analyze``, ``Settings``)."""

DEFAULT_SCORE_THRESHOLD = 0.6
"""The one home of the detector's confidence cut (the local engine, ``ossfaces analyze``, ``Settings``)."""

DEFAULT_MAX_PIXELS = 100_000_000
"""The one home of the pixel count above which a photo is refused before decoding (the engine, ``Settings``)."""
