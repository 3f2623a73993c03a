"""OSS error responses: one exception type carrying what OSS puts in its ``<Error>`` document.

Every failure the server can answer is raised as :class:`OssError` and rendered in one place (``server.py``), so the
status code, the XML shape and the HEAD-only ``x-oss-err`` header cannot drift apart between operations.
"""

from __future__ import annotations

from collections.abc import Mapping

# EC ("error condition") values OSS attaches to its errors, where we know them from OSS's documentation.  Codes missing
# here are answered without an <EC> element rather than with an invented value.
KNOWN_EC: Mapping[str, str] = {
    "NoSuchKey": "0026-00000001",
    "FileAlreadyExists": "0026-00000002",
    "NoSuchBucket": "0015-00000101",
    "InvalidObjectName": "0016-00000005",
}


class OssError(Exception):
    """An OSS error answer: HTTP status, OSS error code, message and any extra elements (e.g. StringToSign)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ec: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra: dict[str, str] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})
        self.ec = ec if ec is not None else KNOWN_EC.get(code)


class ProcessError(OssError):
    """Raised by an ``x-oss-process`` processor to answer with an OSS error document instead of a result."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)


# Constructors for errors raised from several places, so each message is written once.


def no_such_bucket(bucket: str) -> OssError:
    return OssError(404, "NoSuchBucket", "The specified bucket does not exist.", extra={"BucketName": bucket})


def no_such_key(key: str) -> OssError:
    return OssError(404, "NoSuchKey", "The specified key does not exist.", extra={"Key": key})


def invalid_object_name(message: str = "The specified object is not valid.") -> OssError:
    return OssError(400, "InvalidObjectName", message)


def invalid_argument(message: str, name: str = "", value: str = "", *, ec: str | None = None) -> OssError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return OssError(400, "InvalidArgument", message, extra=extra, ec=ec)


def invalid_object_state() -> OssError:
    """An archived object's body, before a RestoreObject made it readable (OSS: "Restore objects for access")."""
    return OssError(403, "InvalidObjectState", "The operation is not valid for the object's state")


def malformed_xml() -> OssError:
    return OssError(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
    )


def no_such_upload(upload_id: str) -> OssError:
    return OssError(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        extra={"UploadId": upload_id},
    )


def access_denied(message: str) -> OssError:
    return OssError(403, "AccessDenied", message)


def signature_mismatch(ak: str, provided: str, string_to_sign: bytes, canonical: bytes | None = None) -> OssError:
    extra = {
        "OSSAccessKeyId": ak,
        "SignatureProvided": provided,
        "StringToSign": string_to_sign.decode("utf-8", "replace"),
        "StringToSignBytes": " ".join(f"{b:02x}" for b in string_to_sign),
    }
    if canonical is not None:
        extra["CanonicalRequest"] = canonical.decode("utf-8", "replace")
    return OssError(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        extra=extra,
    )
