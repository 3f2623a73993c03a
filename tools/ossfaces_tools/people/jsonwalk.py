"""A JSON object read one member at a time, with the standard library's own scanner.

The people file of a million photos is a 90 MB object whose ``Photos`` member ``json.loads`` would turn into a million
dicts at once (0.7 GB); :func:`walk_object` hands each member to the caller where its value starts, and the caller
decodes it (``DECODER.raw_decode``) or walks it in turn, so each photo can be checked and dropped as it is read.
Whitespace, escapes, numbers and errors are ``json``'s: a malformed text raises ``json.JSONDecodeError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def skip_space(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def walk_object(text: str, at: int, member: Callable[[str, int], int]) -> int:
    """Read the JSON object that opens at ``text[at]``: ``member(name, start)`` is called for each member with where
    its value starts and returns where that value ends. Returns where the object ends."""
    if text[at : at + 1] != "{":
        raise json.JSONDecodeError("Expecting '{'", text, at)
    at = skip_space(text, at + 1)
    if text[at : at + 1] == "}":
        return at + 1
    while True:
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        name, at = DECODER.raw_decode(text, at)  # a JSON string: it opens with '"'
        at = skip_space(text, at)
        if text[at : at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = skip_space(text, member(str(name), skip_space(text, at + 1)))
        if text[at : at + 1] == "}":
            return at + 1
        if text[at : at + 1] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = skip_space(text, at + 1)


def decode_value(text: str, at: int) -> tuple[object, int]:
    """The JSON value starting at ``text[at]`` and where it ends."""
    value, end = DECODER.raw_decode(text, at)
    return value, end
