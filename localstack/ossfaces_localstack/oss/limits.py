"""Limits OSS enforces on what a request may attach to an object: tags and user metadata.

Object tags (OSS: PutObjectTagging): at most 10, key 1..128 characters, value up to 256, each made of letters, digits,
space and ``+ - = . _ : /``; refused with 400 InvalidTag (EC pages 0010-00000209, -214, -217).  User metadata: the
``x-oss-meta-*`` names and values of one object together at most 8 KB, refused with 400 MetadataTooLarge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import OssError

MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
TAG_PUNCTUATION = frozenset(" +-=._:/")
MAX_USER_META_BYTES = 8 * 1024


def _invalid_tag(message: str, ec: str) -> OssError:
    return OssError(400, "InvalidTag", message, ec=ec)


def _tag_text_ok(text: str) -> bool:
    # "Letters" and "digits" as Unicode understands them: OSS's console accepts Chinese tags.
    return all(ch.isalnum() or ch in TAG_PUNCTUATION for ch in text)


def tags_from_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The tags named by (key, value) pairs, checked; a key named twice is refused as OSS does."""
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise _invalid_tag(f"The tag key {key!r} is given more than once.", "0010-00000217")
        tags[key] = value
    check_tags(tags)
    return tags


def check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise OssError(400, "BadRequest", "Object tags cannot be greater than 10")
    for key, value in tags.items():
        if not key or len(key) > MAX_TAG_KEY:
            raise _invalid_tag(f"The tag key must be 1 to {MAX_TAG_KEY} characters long.", "0010-00000209")
        if len(value) > MAX_TAG_VALUE:
            raise _invalid_tag(f"The tag value must be at most {MAX_TAG_VALUE} characters long.", "0010-00000214")
        if not (_tag_text_ok(key) and _tag_text_ok(value)):
            raise _invalid_tag(
                "Tag keys and values may contain only letters, digits, spaces and + - = . _ : /", "0010-00000217"
            )


def check_user_meta(user_meta: Mapping[str, str]) -> None:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in user_meta.items())
    if size > MAX_USER_META_BYTES:
        raise OssError(
            400,
            "MetadataTooLarge",
            f"Your metadata headers exceed the maximum allowed metadata size ({size} > {MAX_USER_META_BYTES} bytes).",
        )
