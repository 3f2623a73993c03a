"""Symlinks (PutSymlink, GetSymlink, reads through a link) and object ACLs, through the real oss2 SDK over HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import oss2
import pytest
import requests
from oss2.exceptions import AccessDenied, NoSuchKey, ServerError

from ossfaces_localstack.oss import LocalOss, ObjectCreated

# What oss2's own suite writes (test_chinese.py): UTF-8, punctuation, '%' and a control character in both names.
ODD_TARGET = "中文!@#$%^&*()-=文件\x0c-1.txt"
ODD_LINK = "中文!@#$%^&*()-=文件\x0c-2.txt"


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, local_oss: LocalOss) -> oss2.Bucket:
    """The test bucket through oss2 with each signature version."""
    if request.param == "v1":
        return oss2.Bucket(oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint,
                           "test-bucket")  # fmt: skip
    auth = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
    return oss2.Bucket(auth, local_oss.endpoint, "test-bucket", region=local_oss.region)


def test_symlink_roundtrip_with_odd_names(bucket: oss2.Bucket) -> None:
    bucket.put_object(ODD_TARGET, "中文内容".encode())
    bucket.put_symlink(ODD_TARGET, ODD_LINK)
    assert bucket.get_symlink(ODD_LINK).target_key == ODD_TARGET
    assert bucket.get_object(ODD_LINK).read() == "中文内容".encode()


def test_read_through_a_symlink(bucket: oss2.Bucket) -> None:
    """HEAD and GET of a link answer with the target's body, length and ETag, and the link's own user metadata and
    tags (what oss2's test_object.py checks of OSS)."""
    bucket.put_object("target.txt", b"hello", headers={"Content-Type": "text/plain", "x-oss-meta-who": "target"})
    bucket.put_symlink("target.txt", "link.txt", headers={"x-oss-meta-key1": "value1", "X-Oss-Meta-Key2": "value2",
                                                          "x-oss-tagging": "k=v"})  # fmt: skip
    head = bucket.head_object("link.txt")
    assert head.content_length == 5 and head.etag == hashlib.md5(b"hello").hexdigest().upper()
    assert head.headers["x-oss-meta-key1"] == "value1" and head.headers["x-oss-meta-key2"] == "value2"
    assert "x-oss-meta-who" not in head.headers and head.object_type == "Symlink"
    assert head.content_type == "text/plain" and head.headers["x-oss-tagging-count"] == "1"
    got = bucket.get_object("link.txt", byte_range=(1, 3))
    assert got.read() == b"ell" and got.status == 206
    assert bucket.get_object_tagging("link.txt").tag_set.tagging_rule == {"k": "v"}
    listed = {o.key: o for o in oss2.ObjectIterator(bucket)}
    assert listed["link.txt"].type == "Symlink" and listed["target.txt"].type == "Normal"
    bucket.put_object("target.txt", b"changed")  # a link follows its target's current content
    assert bucket.get_object("link.txt").read() == b"changed"


def test_symlink_errors(bucket: oss2.Bucket, local_oss: LocalOss) -> None:
    bucket.put_symlink("nowhere", "dangling")  # OSS does not check the target when the link is made
    with pytest.raises(NoSuchKey) as e:
        bucket.get_object("dangling")
    assert e.value.ec == "0026-00000012"
    with pytest.raises(NoSuchKey):
        bucket.get_symlink("absent")
    bucket.put_object("plain", b"x")
    with pytest.raises(ServerError) as e:
        bucket.get_symlink("plain")
    assert e.value.status == 400 and e.value.ec == "0043-00000101"
    bucket.put_symlink("dangling", "link-to-link")  # a link's target must not be a link itself
    with pytest.raises(ServerError) as e:
        bucket.head_object("link-to-link")
    assert e.value.status == 400
    with pytest.raises(ServerError) as e:
        bucket.put_symlink("plain", "plain", headers={"x-oss-forbid-overwrite": "true"})
    assert e.value.code == "FileAlreadyExists"
    bucket.delete_object("dangling")
    with pytest.raises(NoSuchKey):
        bucket.get_symlink("dangling")


def test_put_symlink_raises_its_event(local_oss: LocalOss, bucket: oss2.Bucket) -> None:
    events: list[ObjectCreated] = []
    local_oss.add_listener(events.append)
    bucket.put_symlink("t", "s")
    assert [(e.event_name, e.key) for e in events] == [("ObjectCreated:PutSymlink", "s")]


def test_object_acl(bucket: oss2.Bucket) -> None:
    bucket.put_object("a", b"x")
    assert bucket.get_object_acl("a").acl == oss2.OBJECT_ACL_DEFAULT
    bucket.put_object("b", b"x", headers={"x-oss-object-acl": oss2.OBJECT_ACL_PRIVATE})
    assert bucket.get_object_acl("b").acl == oss2.OBJECT_ACL_PRIVATE
    bucket.put_object_acl("a", oss2.OBJECT_ACL_PUBLIC_READ)
    assert bucket.get_object_acl("a").acl == oss2.OBJECT_ACL_PUBLIC_READ
    with pytest.raises(ServerError) as e:
        bucket.put_object("c", b"x", headers={"x-oss-object-acl": "world-writable"})
    assert e.value.code == "InvalidArgument"
    with pytest.raises(NoSuchKey):
        bucket.put_object_acl("absent", oss2.OBJECT_ACL_PRIVATE)


def test_multipart_acl_from_initiate_or_complete(bucket: oss2.Bucket, tmp_path: object) -> None:
    """oss2's resumable upload sends the ACL on InitiateMultipartUpload and on CompleteMultipartUpload."""
    uid = bucket.init_multipart_upload("m", headers={"x-oss-object-acl": "public-read"}).upload_id
    part = bucket.upload_part("m", uid, 1, b"x" * 10)
    bucket.complete_multipart_upload("m", uid, [oss2.models.PartInfo(1, part.etag)])
    assert bucket.get_object_acl("m").acl == "public-read"
    uid = bucket.init_multipart_upload("n").upload_id
    part = bucket.upload_part("n", uid, 1, b"x" * 10)
    bucket.complete_multipart_upload("n", uid, [oss2.models.PartInfo(1, part.etag)],
                                     headers={"x-oss-object-acl": "private"})  # fmt: skip
    assert bucket.get_object_acl("n").acl == "private"


def test_public_read_objects_need_no_signature(local_oss: LocalOss, bucket: oss2.Bucket) -> None:
    """An unsigned GET of a public-read object (or of a public link to one) is served; every other unsigned request
    is still AccessDenied."""
    anonymous = oss2.Bucket(oss2.AnonymousAuth(), local_oss.endpoint, "test-bucket")
    bucket.put_object("open.jpg", b"public bytes", headers={"x-oss-object-acl": "public-read"})
    bucket.put_object("closed.jpg", b"secret")
    assert anonymous.get_object("open.jpg").read() == b"public bytes"
    assert anonymous.head_object("open.jpg").content_length == 12
    refused: list[Callable[[], object]] = [
        lambda: anonymous.get_object("closed.jpg"),
        lambda: anonymous.put_object("open.jpg", b"overwrite"),
        lambda: anonymous.get_object_acl("open.jpg"),
        lambda: anonymous.get_object("absent"),
    ]
    for call in refused:
        with pytest.raises((AccessDenied, ServerError)) as e:
            call()
        assert e.value.status == 403
    bucket.put_symlink("closed.jpg", "open-link", headers={"x-oss-object-acl": "public-read"})
    with pytest.raises(ServerError) as e:  # the link is public, its target is not
        anonymous.get_object("open-link")
    assert e.value.status == 403
    url = f"{local_oss.endpoint}/test-bucket/open.jpg?response-content-type=image%2Fjpeg"
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.content == b"public bytes" and got.headers["Content-Type"] == "image/jpeg"
