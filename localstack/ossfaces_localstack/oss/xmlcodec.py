"""XML documents of the OSS API, built and parsed in one place.

OSS bodies carry no namespace (oss2's parser looks tags up by bare name; a default ``xmlns`` breaks every listing),
and a listing with ``encoding-type=url`` carries keys percent-encoded so control characters survive XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from .errors import OssError, malformed_xml

XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML_BODY = 2 * 1024 * 1024  # request bodies of XML operations are read into memory; cap them


def url_encode(value: str) -> str:
    """What OSS writes for ``encoding-type=url``: every byte outside the unreserved set escaped."""
    return quote(value, safe="")


def to_bytes(root: ET.Element) -> bytes:
    return XML_DECL + bytes(ET.tostring(root, encoding="utf-8", xml_declaration=False))


def add(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = str(text)
    return node


def document(tag: str, fields: Iterable[tuple[str, str | int | None]] = ()) -> ET.Element:
    root = ET.Element(tag)
    for name, value in fields:
        add(root, name, value)
    return root


def error_document(err: OssError, request_id: str, host_id: str) -> bytes:
    root = document(
        "Error", [("Code", err.code), ("Message", err.message), ("RequestId", request_id), ("HostId", host_id)]
    )
    for name, value in err.extra.items():
        add(root, name, value)
    if err.ec:
        add(root, "EC", err.ec)
    return to_bytes(root)


_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13))
_STANDIN = 0x10FF00  # control characters ride through the parser as private-use code points, then come back


def _restore(text: str | None) -> str | None:
    if text is None or not any(ord(ch) >= _STANDIN for ch in text):
        return text
    return "".join(chr(ord(ch) - _STANDIN) if _STANDIN <= ord(ch) < _STANDIN + 32 else ch for ch in text)


def parse(body: bytes) -> ET.Element:
    """Parse a request body. SDKs send keys with control characters raw (oss2 does), which XML 1.0 forbids; accept them."""
    if any(b in _CONTROL for b in body):
        text = body.decode("utf-8", "replace")
        body = "".join(chr(_STANDIN + ord(ch)) if ch in "".join(map(chr, _CONTROL)) else ch for ch in text).encode()
        root = _parse(body)
        for node in root.iter():
            node.text = _restore(node.text)
        return root
    return _parse(body)


def _parse(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise malformed_xml() from None


def text_of(node: ET.Element, path: str) -> str:
    child = node.find(path)
    if child is None:
        raise malformed_xml()
    return child.text or ""


def parse_complete_parts(body: bytes) -> list[tuple[int, str]]:
    root = parse(body)
    if root.tag != "CompleteMultipartUpload":
        raise malformed_xml()
    out = []
    for part in root.findall("Part"):
        number = text_of(part, "PartNumber")
        if not number.isdigit():
            raise malformed_xml()
        out.append((int(number), text_of(part, "ETag")))
    return out


def parse_delete(body: bytes) -> tuple[bool, list[str]]:
    root = parse(body)
    if root.tag != "Delete":
        raise malformed_xml()
    quiet = (root.findtext("Quiet") or "false").strip().lower() == "true"
    return quiet, [text_of(obj, "Key") for obj in root.findall("Object")]


def parse_tagging(body: bytes) -> list[tuple[str, str]]:
    """The (key, value) pairs of a ``<Tagging>`` document, in order and as given (repeats included)."""
    root = parse(body)
    return [(text_of(tag, "Key"), tag.findtext("Value") or "") for tag in root.findall("TagSet/Tag")]


def tagging_document(tags: Mapping[str, str]) -> bytes:
    root = ET.Element("Tagging")
    tagset = add(root, "TagSet")
    for k, v in tags.items():
        tag = add(tagset, "Tag")
        add(tag, "Key", k)
        add(tag, "Value", v)
    return to_bytes(root)


def maybe_encoded(value: str, encode: bool) -> str:
    return url_encode(value) if encode else value


def list_fields(pairs: Sequence[tuple[str, str | int | None]]) -> list[tuple[str, str | int | None]]:
    """Drop the optional fields that are absent (None), keep empty strings (OSS writes ``<Prefix></Prefix>``)."""
    return [(k, v) for k, v in pairs if v is not None]
