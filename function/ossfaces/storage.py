"""OSS access for the function: credentials, the Bucket client, and what each failure means.

``classify`` is where a failure of OSS (through oss2, or the network under it) becomes one of the three kinds of
``ossfaces.errors`` (docs/design.md, "Errors"); IMM v2's own refusals are read by ``engines/imm2_errors.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import oss2
import requests

from ossfaces.errors import ConfigError, OssFacesError, TransientError
from ossfaces.settings import Settings

# Codes that no retry can fix, with what the operator should do about them.
_CONFIG_HINTS = {
    "AccessDenied": "grant the function's role oss:GetObject, oss:PutObject and oss:ProcessImm on the bucket",
    "InvalidAccessKeyId": "the function's credentials are not accepted: check its role (or ALIBABA_CLOUD_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "the access key secret does not match: check the function's credentials",
    "SecurityTokenExpired": "the STS token expired: FC refreshes it per invocation; check the credentials source",
    "InvalidSecurityToken": "the STS token is not valid: check the function's role",
    "NoSuchBucket": "the bucket does not exist at this endpoint: check OSSFACES_OSS_ENDPOINT and the event's region",
    "UserDisable": "the OSS service is disabled for this account",
    "ImmNotBound": "bind an IMM project to the bucket (OSS console: Data Processing → IMM)",
    "InvalidObjectState": "the photo is in an archive storage class and cannot be read until restored: restore it"
    " (RestoreObject), then run `ossfaces backfill` over it; lifecycle rules decide which photos get archived",
}
TRANSIENT_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str = ""


def credentials_from(context: Any, settings: Settings) -> Credentials:
    """``context.credentials`` where the runtime has it (python3.6-3.10), else the ALIBABA_CLOUD_* variables."""
    creds = getattr(context, "credentials", None)
    key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
    if creds is not None and key_id:
        secret = getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", "")
        token = getattr(creds, "security_token", None) or getattr(creds, "securityToken", "")
        return Credentials(key_id, secret or "", token or "")
    if settings.access_key_id and settings.access_key_secret:
        return Credentials(settings.access_key_id, settings.access_key_secret, settings.security_token)
    raise ConfigError(
        "NoCredentials",
        "no credentials: give the function a role (FC passes its STS credentials in the context) "
        "or set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    )


_SESSION = oss2.Session()  # one connection pool per process, shared by every Bucket: warm invocations reuse sockets


def open_bucket(settings: Settings, credentials: Credentials, bucket: str, region: str) -> oss2.Bucket:
    """An oss2 Bucket signed with the function's credentials, at the endpoint ``settings`` chooses for ``region``."""
    version = oss2.AUTH_VERSION_4 if settings.oss_auth_version == "v4" else oss2.AUTH_VERSION_1
    if credentials.security_token:
        auth: Any = oss2.StsAuth(
            credentials.access_key_id, credentials.access_key_secret, credentials.security_token, auth_version=version
        )
    elif version == oss2.AUTH_VERSION_4:
        auth = oss2.AuthV4(credentials.access_key_id, credentials.access_key_secret)
    else:
        auth = oss2.Auth(credentials.access_key_id, credentials.access_key_secret)
    return oss2.Bucket(
        auth,
        settings.endpoint_for(region),
        bucket,
        session=_SESSION,
        connect_timeout=settings.oss_timeout,
        region=region,
        app_name="ossfaces",
    )


def classify(exc: BaseException, doing: str) -> OssFacesError:
    """The ossfaces error for an OSS failure while ``doing`` something: config (fix it) or transient (retry)."""
    if isinstance(exc, OssFacesError):
        return exc
    if isinstance(exc, (oss2.exceptions.RequestError, requests.RequestException, TimeoutError, ConnectionError)):
        return TransientError("NetworkError", f"{doing}: {short(exc)}")
    if isinstance(exc, oss2.exceptions.InconsistentError):
        return TransientError("InconsistentData", f"{doing}: CRC mismatch, the transfer was damaged")
    if isinstance(exc, oss2.exceptions.ClientError):  # refused by oss2 before any request: no retry can change it
        detail = str(exc.body or exc.message or exc).removeprefix("ClientError: ")
        if "bucket_name is invalid" in detail:
            return ConfigError(
                "InvalidBucketName",
                f"{doing}: the bucket name is not a valid OSS bucket name (fix: check the trigger or event source that "
                "invokes this function; OSS events name real buckets)",
            )
        return ConfigError("ClientError", f"{doing}: {detail}")
    if isinstance(exc, oss2.exceptions.OssError):
        code = str(exc.code or exc.status)
        message = f"{doing}: {exc.status} {code}: {exc.message}"
        if exc.status in TRANSIENT_STATUSES or exc.status < 0:
            return TransientError(code, message, exc.request_id)
        hint = _CONFIG_HINTS.get(code) or (_CONFIG_HINTS["AccessDenied"] if exc.status == 403 else None)
        return ConfigError(code, f"{message} (fix: {hint})" if hint else message, exc.request_id)
    return TransientError(type(exc).__name__, f"{doing}: {short(exc)}")


def is_missing(exc: BaseException) -> bool:
    """True for a 404 about the object itself (not the bucket)."""
    return isinstance(exc, oss2.exceptions.ServerError) and exc.status == 404 and exc.code != "NoSuchBucket"


def is_superseded(exc: BaseException) -> bool:
    """True for a 412: the object is no longer the version an If-Match asked for."""
    return isinstance(exc, oss2.exceptions.ServerError) and exc.status == 412


def short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
