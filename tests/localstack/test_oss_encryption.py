"""Server-side encryption headers (x-oss-server-side-encryption and friends) through the real oss2 SDK over HTTP.

The local OSS stores the bytes as they come and only reports the encryption a write asked for, as OSS reports it (a
stand-in: docs/localstack.md); these tests pin that reporting, the rules oss2's own suite checks of OSS.
"""

from __future__ import annotations

import os

import oss2
import pytest
from oss2.exceptions import InvalidArgument, ServerError
from oss2.headers import OSS_SERVER_SIDE_DATA_ENCRYPTION, OSS_SERVER_SIDE_ENCRYPTION, OSS_SERVER_SIDE_ENCRYPTION_KEY_ID
from oss2.models import PartInfo

from ossfaces_localstack.oss import LocalOss


def reported(headers: object) -> tuple[str | None, str | None, str | None]:
    get = headers.get  # type: ignore[attr-defined]
    return get(OSS_SERVER_SIDE_ENCRYPTION), get(OSS_SERVER_SIDE_DATA_ENCRYPTION), get(OSS_SERVER_SIDE_ENCRYPTION_KEY_ID)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ((None, None), (None, None, None)),
        (("KMS", None), ("KMS", None, "local-oss-managed-kms-key")),
        (("KMS", "SM4"), ("KMS", "SM4", "local-oss-managed-kms-key")),
        (("AES256", "SM4"), ("AES256", None, None)),  # a data cipher only goes with KMS
        (("SM4", None), ("SM4", None, None)),
        ((None, "SM4"), (None, None, None)),
    ],
)
def test_put_reports_the_encryption_asked_for(
    oss_bucket: oss2.Bucket, asked: tuple[str | None, str | None], expected: tuple[str | None, ...]
) -> None:
    headers = {name: value for name, value in zip(
        (OSS_SERVER_SIDE_ENCRYPTION, OSS_SERVER_SIDE_DATA_ENCRYPTION), asked, strict=True) if value}  # fmt: skip
    assert reported(oss_bucket.put_object("k", b"data", headers=headers).headers) == expected
    assert reported(oss_bucket.head_object("k").headers) == expected
    got = oss_bucket.get_object("k")
    assert got.read() == b"data" and reported(got.headers) == expected


def test_kms_key_named_and_bad_algorithm(oss_bucket: oss2.Bucket) -> None:
    named = {OSS_SERVER_SIDE_ENCRYPTION: "KMS", OSS_SERVER_SIDE_ENCRYPTION_KEY_ID: "my-cmk"}
    assert reported(oss_bucket.put_object("k", b"x", headers=named).headers)[2] == "my-cmk"
    with pytest.raises(ServerError) as e:
        oss_bucket.put_object("k", b"x", headers={OSS_SERVER_SIDE_ENCRYPTION: "DES"})
    assert (e.value.status, e.value.code) == (400, "InvalidEncryptionAlgorithmError")


def test_append_keeps_the_first_encryption(oss_bucket: oss2.Bucket) -> None:
    first = oss_bucket.append_object("a", 0, b"123", headers={OSS_SERVER_SIDE_ENCRYPTION: "KMS"})
    later = oss_bucket.append_object("a", 3, b"456", headers={OSS_SERVER_SIDE_ENCRYPTION: "AES256"})
    assert reported(first.headers) == reported(later.headers) == ("KMS", None, "local-oss-managed-kms-key")


def test_multipart_takes_the_encryption_of_its_initiation(oss_bucket: oss2.Bucket) -> None:
    sse = {OSS_SERVER_SIDE_ENCRYPTION: "KMS", OSS_SERVER_SIDE_DATA_ENCRYPTION: "SM4"}
    expected = ("KMS", "SM4", "local-oss-managed-kms-key")
    init = oss_bucket.init_multipart_upload("m", headers=sse)
    assert reported(init.headers) == expected
    with pytest.raises(InvalidArgument):  # a part cannot name its own
        oss_bucket.upload_part("m", init.upload_id, 1, b"x", headers=sse)
    part = oss_bucket.upload_part("m", init.upload_id, 1, os.urandom(1000))
    assert reported(part.headers) == expected
    with pytest.raises(InvalidArgument):
        oss_bucket.complete_multipart_upload("m", init.upload_id, [PartInfo(1, part.etag)], headers=sse)
    done = oss_bucket.complete_multipart_upload("m", init.upload_id, [PartInfo(1, part.etag)])
    assert reported(done.headers) == reported(oss_bucket.head_object("m").headers) == expected


def test_copy_takes_the_encryption_it_names(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    oss_bucket.put_object("src", b"x", headers={OSS_SERVER_SIDE_ENCRYPTION: "KMS"})
    oss_bucket.copy_object("test-bucket", "src", "plain")
    oss_bucket.copy_object("test-bucket", "src", "sm4", headers={OSS_SERVER_SIDE_ENCRYPTION: "SM4"})
    assert reported(oss_bucket.head_object("plain").headers) == (None, None, None)
    assert reported(oss_bucket.head_object("sm4").headers) == ("SM4", None, None)
