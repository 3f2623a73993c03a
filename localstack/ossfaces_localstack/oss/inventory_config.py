"""Bucket inventory rules (PutBucketInventory's ``InventoryConfiguration``): parsed, checked and written back as OSS
documents them.

The document (OSS API reference PutBucketInventory; the oss2 and OSS Go SDK v2 encoders agree)::

    <InventoryConfiguration>
      <Id>report1</Id> <IsEnabled>true</IsEnabled>
      <Filter><Prefix>…</Prefix> <LastModifyBeginTimeStamp/> <LastModifyEndTimeStamp/> <LowerSizeBound/>
              <UpperSizeBound/> <StorageClass>Standard,IA</StorageClass></Filter>          (optional, every child too)
      <Destination><OSSBucketDestination><Format>CSV</Format><AccountId>…</AccountId><RoleArn>acs:ram::…</RoleArn>
              <Bucket>acs:oss:::dest-bucket</Bucket><Prefix>…</Prefix><Encryption>…</Encryption>
      </OSSBucketDestination></Destination>
      <Schedule><Frequency>Daily|Weekly|Monthly</Frequency></Schedule>
      <IncludedObjectVersions>All|Current</IncludedObjectVersions>
      <OptionalFields><Field>Size</Field>…</OptionalFields>
    </InventoryConfiguration>

Error conditions (EC) are the ones OSS documents for this operation (0020-000000xx); the error codes beside them
follow OSS's usual names (MalformedXML, InvalidArgument) where the documentation gives none.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import xmlcodec
from .errors import OssError, malformed_xml

MAX_INVENTORIES = 1000  # per bucket (OSS: "up to 1,000 inventories for a bucket")
FREQUENCIES = ("Daily", "Weekly", "Monthly")
VERSIONS = ("All", "Current")
OPTIONAL_FIELDS = (  # in the order OSS writes their columns after Bucket and Key
    "Size", "LastModifiedDate", "ETag", "StorageClass", "IsMultipartUploaded", "EncryptionStatus",
    "TransitionTime", "ObjectAcl", "TaggingCount", "ObjectType", "Crc64",
)  # fmt: skip
DESTINATION_ARN = re.compile(r"acs:oss:::([a-z0-9][a-z0-9-]{1,61}[a-z0-9])")
INVENTORY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _bad(message: str, ec: str, name: str = "", value: str = "") -> OssError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return OssError(400, "InvalidArgument", message, extra=extra, ec=ec)


@dataclass(frozen=True)
class InventoryFilter:
    prefix: str = ""
    modified_from: int | None = None  # LastModifyBeginTimeStamp, Unix seconds
    modified_to: int | None = None
    size_from: int | None = None  # LowerSizeBound, bytes
    size_to: int | None = None
    storage_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class InventoryConfig:
    """One inventory rule of a bucket."""

    id: str
    enabled: bool
    destination_bucket: str
    account_id: str
    role_arn: str
    frequency: str
    versions: str
    fields: tuple[str, ...] = ()
    destination_prefix: str = ""
    format: str = "CSV"
    encryption: str = ""  # "", "SSE-OSS" or "SSE-KMS:<key id>": kept and returned, not applied locally
    filter: InventoryFilter = field(default_factory=InventoryFilter)

    def matches(self, key: str, size: int, mtime: int) -> bool:
        f = self.filter
        return (
            key.startswith(f.prefix)
            and (f.modified_from is None or mtime >= f.modified_from)
            and (f.modified_to is None or mtime <= f.modified_to)
            and (f.size_from is None or size >= f.size_from)
            and (f.size_to is None or size <= f.size_to)
            and (not f.storage_classes or "Standard" in f.storage_classes)
        )

    def columns(self) -> list[str]:
        """The data files' columns in order (manifest ``fileSchema``): Bucket, Key, then the chosen fields."""
        chosen = set(self.fields)
        return ["Bucket", "Key", *(name for name in OPTIONAL_FIELDS if name in chosen)]

    def to_element(self) -> ET.Element:
        root = ET.Element("InventoryConfiguration")
        xmlcodec.add(root, "Id", self.id)
        xmlcodec.add(root, "IsEnabled", "true" if self.enabled else "false")
        f = self.filter
        if f != InventoryFilter():
            node = xmlcodec.add(root, "Filter")
            for tag, value in (
                ("Prefix", f.prefix or None), ("LastModifyBeginTimeStamp", f.modified_from),
                ("LastModifyEndTimeStamp", f.modified_to), ("LowerSizeBound", f.size_from),
                ("UpperSizeBound", f.size_to), ("StorageClass", ",".join(f.storage_classes) or None),
            ):  # fmt: skip
                if value is not None:
                    xmlcodec.add(node, tag, value)
        dest = xmlcodec.add(xmlcodec.add(root, "Destination"), "OSSBucketDestination")
        xmlcodec.add(dest, "Format", self.format)
        xmlcodec.add(dest, "AccountId", self.account_id)
        xmlcodec.add(dest, "RoleArn", self.role_arn)
        xmlcodec.add(dest, "Bucket", f"acs:oss:::{self.destination_bucket}")
        if self.destination_prefix:
            xmlcodec.add(dest, "Prefix", self.destination_prefix)
        if self.encryption:
            encryption = xmlcodec.add(dest, "Encryption")
            if self.encryption == "SSE-OSS":
                xmlcodec.add(encryption, "SSE-OSS")
            else:
                xmlcodec.add(xmlcodec.add(encryption, "SSE-KMS"), "KeyId", self.encryption.partition(":")[2])
        xmlcodec.add(xmlcodec.add(root, "Schedule"), "Frequency", self.frequency)
        xmlcodec.add(root, "IncludedObjectVersions", self.versions)
        fields = xmlcodec.add(root, "OptionalFields")
        for name in self.fields:
            xmlcodec.add(fields, "Field", name)
        return root


def _int(node: ET.Element, path: str, ec: str) -> int | None:
    text = node.findtext(path)
    if text is None or text.strip() == "":
        return None
    if not text.strip().isdigit():
        raise _bad(f"{path} must be a non-negative integer.", ec, path, text)
    return int(text.strip())


def _required(node: ET.Element, path: str, ec: str) -> str:
    text = node.findtext(path)
    if text is None or not text.strip():
        raise OssError(400, "MalformedXML", f"The request lacks the {path} node.", ec=ec)
    return text.strip()


def parse_config(body: bytes, inventory_id: str) -> InventoryConfig:
    """The rule in a PutBucketInventory body, checked as OSS checks it; ``inventory_id`` is the query's."""
    root = xmlcodec.parse(body)
    if root.tag != "InventoryConfiguration":
        raise OssError(400, "MalformedXML", malformed_xml().message, ec="0020-00000004")
    rule_id = _required(root, "Id", "0020-00000005")
    if rule_id != inventory_id:
        raise _bad("The Id node does not match the inventoryId parameter.", "0020-00000006", "Id", rule_id)
    if not INVENTORY_ID.fullmatch(rule_id):
        raise _bad("The inventory Id is invalid.", "0020-00000007", "Id", rule_id)
    enabled = _required(root, "IsEnabled", "0020-00000008").lower()
    if enabled not in ("true", "false"):
        raise _bad("IsEnabled must be true or false.", "0020-00000009", "IsEnabled", enabled)
    dest = root.find("Destination/OSSBucketDestination")
    if dest is None:
        raise OssError(400, "MalformedXML", "The request lacks the Destination/OSSBucketDestination node.",
                       ec="0020-00000010")  # fmt: skip
    fmt = _required(dest, "Format", "0020-00000012")
    if fmt != "CSV":
        raise _bad("Only the CSV format is supported.", "0020-00000029", "Format", fmt)
    account = _required(dest, "AccountId", "0020-00000013")
    role = _required(dest, "RoleArn", "0020-00000014")
    arn = _required(dest, "Bucket", "0020-00000015")
    match = DESTINATION_ARN.fullmatch(arn)
    if match is None:
        raise _bad("The destination bucket must be written acs:oss:::<bucket>.", "0020-00000030", "Bucket", arn)
    encryption = ""
    if dest.find("Encryption/SSE-OSS") is not None:
        encryption = "SSE-OSS"
    elif dest.find("Encryption/SSE-KMS") is not None:
        encryption = "SSE-KMS:" + (dest.findtext("Encryption/SSE-KMS/KeyId") or "")
    frequency = _required(root, "Schedule/Frequency", "0020-00000016")
    if frequency not in FREQUENCIES:
        raise _bad("Frequency must be Daily, Weekly or Monthly.", "0020-00000017", "Frequency", frequency)
    versions = _required(root, "IncludedObjectVersions", "0020-00000018")
    if versions not in VERSIONS:
        raise _bad("IncludedObjectVersions must be All or Current.", "0020-00000019", "IncludedObjectVersions",
                   versions)  # fmt: skip
    fields: list[str] = []
    for node in root.findall("OptionalFields/Field"):
        name = (node.text or "").strip()
        if name not in OPTIONAL_FIELDS:
            raise _bad("The OptionalFields node contains an invalid item.", "0020-00000036", "Field", name)
        if name not in fields:
            fields.append(name)
    flt = root.find("Filter")
    inventory_filter = InventoryFilter()
    if flt is not None:
        inventory_filter = InventoryFilter(
            prefix=(flt.findtext("Prefix") or ""),
            modified_from=_int(flt, "LastModifyBeginTimeStamp", "0020-00000037"),
            modified_to=_int(flt, "LastModifyEndTimeStamp", "0020-00000037"),
            size_from=_int(flt, "LowerSizeBound", "0020-00000038"),
            size_to=_int(flt, "UpperSizeBound", "0020-00000038"),
            storage_classes=tuple(s.strip() for s in (flt.findtext("StorageClass") or "").split(",") if s.strip()),
        )
        lo, hi = inventory_filter.size_from, inventory_filter.size_to
        if lo is not None and hi is not None and lo > hi:
            raise _bad("LowerSizeBound must not exceed UpperSizeBound.", "0020-00000038", "UpperSizeBound", str(hi))
    return InventoryConfig(
        rule_id, enabled == "true", match.group(1), account, role, frequency, versions, tuple(fields),
        (dest.findtext("Prefix") or "").strip(), fmt, encryption, inventory_filter,
    )  # fmt: skip


def to_stored(config: InventoryConfig) -> str:
    """How the storage keeps a rule: its own XML document (one codec, no second format to drift)."""
    return xmlcodec.to_bytes(config.to_element()).decode("utf-8")


def from_stored(text: str) -> InventoryConfig:
    root = xmlcodec.parse(text.encode("utf-8"))
    return parse_config(text.encode("utf-8"), root.findtext("Id") or "")
