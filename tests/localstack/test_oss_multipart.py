"""Multipart uploads (and oss2's resumable upload built on them) against the local OSS."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import oss2
import pytest
from oss2.exceptions import NoSuchUpload, ServerError
from oss2.models import PartInfo

from ossfaces_localstack.oss import LocalOss, ObjectCreated
from ossfaces_localstack.oss.checksums import crc64

PART = 100 * 1024


def test_multipart_roundtrip_etag_and_crc(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    events: list[ObjectCreated] = []
    local_oss.add_listener(events.append)
    parts_data = [os.urandom(PART), os.urandom(PART + 1), os.urandom(10)]
    upload_id = oss_bucket.init_multipart_upload("mp/obj", headers={"Content-Type": "image/png"}).upload_id
    parts = []
    for i, data in enumerate(parts_data, 1):
        r = oss_bucket.upload_part("mp/obj", upload_id, i, data)
        assert r.crc == crc64(data)
        parts.append(PartInfo(i, r.etag, size=len(data), part_crc=r.crc))
    listed = oss_bucket.list_parts("mp/obj", upload_id)
    assert [p.part_number for p in listed.parts] == [1, 2, 3] and listed.parts[1].size == PART + 1
    assert [u.upload_id for u in oss2.MultipartUploadIterator(oss_bucket)] == [upload_id]
    result = oss_bucket.complete_multipart_upload("mp/obj", upload_id, parts)  # oss2 checks the combined CRC
    whole = b"".join(parts_data)
    expected = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest().upper() + "-3"
    assert result.etag == expected and result.crc == crc64(whole)
    head = oss_bucket.head_object("mp/obj")
    assert head.object_type == "Multipart" and head.content_type == "image/png" and head.content_length == len(whole)
    assert oss_bucket.get_object("mp/obj").read() == whole
    assert list(oss2.MultipartUploadIterator(oss_bucket)) == []
    assert [e.event_name for e in events] == ["ObjectCreated:CompleteMultipartUpload"]


def test_multipart_errors(oss_bucket: oss2.Bucket) -> None:
    uid = oss_bucket.init_multipart_upload("e").upload_id
    r1 = oss_bucket.upload_part("e", uid, 1, b"a" * PART)
    r2 = oss_bucket.upload_part("e", uid, 2, b"b")
    with pytest.raises(ServerError) as e:
        oss_bucket.complete_multipart_upload("e", uid, [PartInfo(1, "0" * 32)])
    assert e.value.code == "InvalidPart"
    with pytest.raises(ServerError) as e:  # oss2 sorts parts, so repeat a number to break the order
        oss_bucket.complete_multipart_upload("e", uid, [PartInfo(1, r1.etag), PartInfo(1, r1.etag)])
    assert e.value.code == "InvalidPartOrder"
    small = oss_bucket.init_multipart_upload("s").upload_id
    s1 = oss_bucket.upload_part("s", small, 1, b"tiny")
    s2 = oss_bucket.upload_part("s", small, 2, b"tiny")
    with pytest.raises(ServerError) as e:
        oss_bucket.complete_multipart_upload("s", small, [PartInfo(1, s1.etag), PartInfo(2, s2.etag)])
    assert e.value.code == "EntityTooSmall"
    oss_bucket.abort_multipart_upload("e", uid)
    with pytest.raises(NoSuchUpload):
        oss_bucket.complete_multipart_upload("e", uid, [PartInfo(1, r1.etag), PartInfo(2, r2.etag)])
    with pytest.raises(NoSuchUpload):
        oss_bucket.upload_part("e", uid, 3, b"x")
    assert not oss_bucket.object_exists("e")


def test_complete_all(oss_bucket: oss2.Bucket) -> None:
    uid = oss_bucket.init_multipart_upload("all").upload_id
    oss_bucket.upload_part("all", uid, 1, b"1" * PART)
    oss_bucket.upload_part("all", uid, 2, b"2")
    oss_bucket.complete_multipart_upload("all", uid, None, headers={"x-oss-complete-all": "yes"})
    assert oss_bucket.get_object("all").read() == b"1" * PART + b"2"


def test_resumable_upload_and_download(oss_bucket: oss2.Bucket, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    oss2.resumable_upload(
        oss_bucket,
        "resumable/big.bin",
        str(src),
        store=oss2.ResumableStore(root=str(tmp_path)),
        multipart_threshold=1024 * 1024,
        part_size=512 * 1024,
        num_threads=4,
    )
    assert oss_bucket.head_object("resumable/big.bin").object_type == "Multipart"
    dst = tmp_path / "back.bin"
    oss2.resumable_download(
        oss_bucket,
        "resumable/big.bin",
        str(dst),
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
        multiget_threshold=1024 * 1024,
        part_size=512 * 1024,
        num_threads=4,
    )
    assert dst.read_bytes() == src.read_bytes()
    oss_bucket.get_object_to_file("resumable/big.bin", str(tmp_path / "plain.bin"))  # oss2 checks the CRC
    assert (tmp_path / "plain.bin").read_bytes() == src.read_bytes()


def test_upload_part_copy_with_ranges(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    """A 300 KB object copied as three ranged parts (oss2.Bucket.upload_part_copy) is the same 300 KB object."""
    source = os.urandom(3 * PART)
    put = oss_bucket.put_object("src/photo.jpg", source)
    upload_id = oss_bucket.init_multipart_upload("dst/copy.jpg").upload_id
    parts = []
    ranges = [(0, PART - 1), (PART, 2 * PART + 9), (2 * PART + 10, 3 * PART - 1)]
    for number, (first, last) in enumerate(ranges, 1):
        r = oss_bucket.upload_part_copy(
            "test-bucket", "src/photo.jpg", (first, last), "dst/copy.jpg", upload_id, number
        )
        piece = source[first : last + 1]
        assert r.etag == hashlib.md5(piece).hexdigest().upper()
        parts.append(PartInfo(number, r.etag, size=len(piece), part_crc=crc64(piece)))
    listed = oss_bucket.list_parts("dst/copy.jpg", upload_id).parts
    assert [p.size for p in listed] == [PART, PART + 10, PART - 10]
    oss_bucket.complete_multipart_upload("dst/copy.jpg", upload_id, parts)  # oss2 checks the combined CRC
    assert oss_bucket.get_object("dst/copy.jpg").read() == source

    # no range: the whole object; a source condition that fails: 412, nothing stored
    whole_id = oss_bucket.init_multipart_upload("dst/whole.jpg").upload_id
    r = oss_bucket.upload_part_copy("test-bucket", "src/photo.jpg", None, "dst/whole.jpg", whole_id, 1)
    assert r.etag == put.etag.strip('"')
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        oss_bucket.upload_part_copy(
            "test-bucket",
            "src/photo.jpg",
            None,
            "dst/whole.jpg",
            whole_id,
            2,
            headers={"x-oss-copy-source-if-match": '"0123456789ABCDEF0123456789ABCDEF"'},
        )
    with pytest.raises(oss2.exceptions.NoSuchKey):
        oss_bucket.upload_part_copy("test-bucket", "src/missing.jpg", None, "dst/whole.jpg", whole_id, 2)
    with pytest.raises(oss2.exceptions.ServerError) as unsatisfiable:
        oss_bucket.upload_part_copy("test-bucket", "src/photo.jpg", (5 * PART, 6 * PART), "dst/whole.jpg", whole_id, 2)
    assert unsatisfiable.value.status in (400, 416)
    assert [p.part_number for p in oss_bucket.list_parts("dst/whole.jpg", whole_id).parts] == [1]


def test_completed_crc_is_combined_from_the_chosen_parts(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    """The object's CRC-64 comes from its parts' stored CRCs (not from re-reading them): right for a re-uploaded part,
    a skipped part and an empty last part, and on every read, where oss2 checks it against the bytes."""
    uid = oss_bucket.init_multipart_upload("mp/chosen").upload_id
    data = {1: os.urandom(PART), 2: os.urandom(PART + 3), 3: os.urandom(PART), 4: b""}
    oss_bucket.upload_part("mp/chosen", uid, 2, b"replaced below" * 10_000)
    etags = {n: oss_bucket.upload_part("mp/chosen", uid, n, body).etag for n, body in data.items()}
    chosen = [1, 2, 4]  # part 3 is left out, part 4 is empty
    result = oss_bucket.complete_multipart_upload("mp/chosen", uid, [PartInfo(n, etags[n]) for n in chosen])
    whole = b"".join(data[n] for n in chosen)
    assert result.crc == crc64(whole) == int(oss_bucket.head_object("mp/chosen").server_crc)
    assert oss_bucket.get_object("mp/chosen").read() == whole  # oss2 compares the CRC with the bytes it read
    stored = local_oss.storage.head("test-bucket", "mp/chosen")
    assert (stored.size, stored.crc) == (len(whole), crc64(whole))


def test_completion_copies_through_user_space_where_the_kernel_cannot(
    local_oss: LocalOss, oss_bucket: oss2.Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without copy_file_range (another OS, or a file system that refuses it) the parts are copied by read/write."""

    def refuse(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    uid = oss_bucket.init_multipart_upload("mp/fallback").upload_id
    data = [os.urandom(PART), os.urandom(3 * (1 << 20) + 5)]  # the second spans several 1 MiB reads
    parts = [PartInfo(n, oss_bucket.upload_part("mp/fallback", uid, n, body).etag) for n, body in enumerate(data, 1)]
    result = oss_bucket.complete_multipart_upload("mp/fallback", uid, parts)
    assert result.crc == crc64(b"".join(data))
    assert oss_bucket.get_object("mp/fallback").read() == b"".join(data)


@pytest.mark.parametrize(
    ("byte_range", "first", "last"),
    [
        ((PART, None), PART, 2 * PART + 4),
        ((None, 5), 2 * PART, 2 * PART + 4),
        ((2 * PART + 4, None), 2 * PART + 4, 2 * PART + 4),
    ],
)
def test_upload_part_copy_open_ended_ranges(
    oss_bucket: oss2.Bucket, byte_range: tuple[int | None, int | None], first: int, last: int
) -> None:
    """``bytes=102400-`` copies to the end of the source and ``bytes=-5`` its last 5 bytes (oss2 sends both for
    ``(first, None)`` and ``(None, n)``, and its own multipart test copies the second half of a file this way)."""
    source = os.urandom(2 * PART + 5)
    oss_bucket.put_object("src/open.bin", source)
    upload_id = oss_bucket.init_multipart_upload("dst/open.bin").upload_id
    r = oss_bucket.upload_part_copy("test-bucket", "src/open.bin", byte_range, "dst/open.bin", upload_id, 1)
    assert r.etag == hashlib.md5(source[first : last + 1]).hexdigest().upper()
    with pytest.raises(oss2.exceptions.ServerError) as beyond:
        oss_bucket.upload_part_copy("test-bucket", "src/open.bin", (len(source), None), "dst/open.bin", upload_id, 2)
    assert (beyond.value.status, beyond.value.code) == (416, "InvalidRange")


def test_sequential_upload(oss_bucket: oss2.Bucket) -> None:
    """``?sequential``: parts only in order, each once; the object then has the MD5 of its whole body, which GET and
    HEAD answer as Content-MD5 (as for a simple upload; a plain multipart object has none: oss2's suite checks both)."""
    data = [os.urandom(PART), os.urandom(PART), os.urandom(7)]
    uid = oss_bucket.init_multipart_upload("seq", params={"sequential": ""}).upload_id
    with pytest.raises(oss2.exceptions.PartNotSequential):
        oss_bucket.upload_part("seq", uid, 2, data[1])
    parts = [PartInfo(1, oss_bucket.upload_part("seq", uid, 1, data[0]).etag)]
    with pytest.raises(oss2.exceptions.ServerError) as again:
        oss_bucket.upload_part("seq", uid, 1, data[0])
    assert (again.value.status, again.value.code) == (409, "PartAlreadyExist")
    with pytest.raises(oss2.exceptions.PartNotSequential):  # the same rule for a part copied from an object
        oss_bucket.upload_part_copy("test-bucket", "seq-src", None, "seq", uid, 3)
    parts += [PartInfo(n, oss_bucket.upload_part("seq", uid, n, data[n - 1]).etag) for n in (2, 3)]
    result = oss_bucket.complete_multipart_upload("seq", uid, parts)
    whole = b"".join(data)
    md5 = base64.b64encode(hashlib.md5(whole).digest()).decode()
    assert result.etag.endswith("-3") and result.crc == crc64(whole)
    got = oss_bucket.get_object("seq")
    assert got.read() == whole and got.headers["Content-MD5"] == md5
    assert oss_bucket.head_object("seq").headers["Content-MD5"] == md5
    assert "Content-MD5" not in oss_bucket.get_object("seq", byte_range=(0, 9)).headers  # not the MD5 of a part

    plain = oss_bucket.init_multipart_upload("plain").upload_id
    oss_bucket.upload_part("plain", plain, 2, data[1])  # any order
    p1 = oss_bucket.upload_part("plain", plain, 1, data[0])
    oss_bucket.complete_multipart_upload("plain", plain, [PartInfo(1, p1.etag)])
    assert "Content-MD5" not in oss_bucket.get_object("plain").headers
    oss_bucket.put_object("simple", b"abc")
    assert (
        oss_bucket.get_object("simple").headers["Content-MD5"]
        == base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    )


def test_resumable_upload_sequential_and_with_acl(oss_bucket: oss2.Bucket, tmp_path: Path) -> None:
    """oss2's resumable upload with ``params={'sequential': ''}`` and one thread (several would break the order: a
    race, so that case is checked part by part above), sending the ACL on initiate and complete."""
    src = tmp_path / "seq.bin"
    src.write_bytes(os.urandom(10 * PART))
    store = oss2.ResumableStore(root=str(tmp_path))
    oss2.resumable_upload(oss_bucket, "rs", str(src), store=store, multipart_threshold=2 * PART, part_size=PART,
                          num_threads=1, params={"sequential": ""}, headers={"x-oss-object-acl": "private"})  # fmt: skip
    got = oss_bucket.get_object("rs")
    assert got.read() == src.read_bytes() and got.headers["Content-MD5"]
    assert oss_bucket.get_object_acl("rs").acl == "private"
