"""What IMM v2's refusals mean for the function: configuration (fix it), transient (FC retries) or a bad photo.

The OpenAPI SDK raises ``Tea.exceptions.TeaException`` with IMM's code, HTTP status and message; each answer becomes one
of the three kinds of ``ossfaces.errors`` (docs/design.md, "Errors"), with what the operator should fix. OSS's own
failures are read by ``ossfaces.storage.classify``.
"""

from __future__ import annotations

import sys

from ossfaces.errors import BadImage, ConfigError, OssFacesError, TransientError
from ossfaces.storage import TRANSIENT_STATUSES, short

# What to fix for each refusal no retry can change.
_IMM_GRANT = (
    "grant the function's role imm:DetectImageFaces on acs:imm:<region>:<account>:project/<OSSFACES_IMM_PROJECT>"
)
_IMM_CREDENTIALS = "the function's credentials are not accepted by IMM: check its role (or ALIBABA_CLOUD_ACCESS_KEY_*)"
_IMM_CONFIG_HINTS = {
    "Forbidden": _IMM_GRANT,
    "NoPermission": _IMM_GRANT,
    "AccessDenied": _IMM_GRANT,
    "SignatureDoesNotMatch": _IMM_CREDENTIALS,
    "IncompleteSignature": _IMM_CREDENTIALS,
    "InvalidAccessKeyId": _IMM_CREDENTIALS,
    "InvalidAccessKeyId.NotFound": _IMM_CREDENTIALS,
    "InvalidAccessKeyId.Inactive": _IMM_CREDENTIALS,
    "InvalidSecurityToken": _IMM_CREDENTIALS,
    "InvalidSecurityToken.Expired": "the STS token expired: FC refreshes it per invocation; check the credentials source",
    "InvalidSecurityToken.Malformed": _IMM_CREDENTIALS,
    "InvalidSecurityToken.MismatchWithAccessKey": _IMM_CREDENTIALS,
    "InvalidTimeStamp.Expired": "the function's clock is off by more than 15 minutes",
}
_IMM_NOT_ACTIVATED = ("NotActivated", "NotOpened", "NotOpen", "ServiceDisabled", "Unactivated", "NotApplied")


def classify_imm2(exc: BaseException, doing: str) -> OssFacesError | None:
    """IMM v2's answer (Alibaba Cloud OpenAPI SDK exceptions), or None for anything else.

    Checked through ``sys.modules`` so that this module does not import the SDK (1 s of cold start): an exception of
    the SDK's types exists only once the SDK is imported.
    """
    tea = sys.modules.get("Tea.exceptions")
    if tea is None or not isinstance(exc, tea.TeaException):
        return None
    status = getattr(exc, "status_code", None)
    if status is None:  # no HTTP answer: connection refused, timeout, TLS, DNS (the SDK's UnretryableException)
        return TransientError("NetworkError", f"{doing}: {short(exc)}")
    code = str(getattr(exc, "code", "") or status)
    detail = str(getattr(exc, "message", "") or "")
    request_id = getattr(exc, "request_id", None) or None
    message = f"{doing}: {status} {code}: {detail}"
    if code.startswith("Throttling") or status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(code, f"{message} (IMM's project QPS quota defaults to 100; FC retries)", request_id)
    lowered = detail.lower()
    if code == "ResourceNotFound" and "project" in lowered:
        return ConfigError(
            code,
            f"{message} (fix: create the IMM v2 project named by OSSFACES_IMM_PROJECT in the bucket's region, or "
            "correct the name; an old-version (v1) project does not answer the 2020-09-30 API)",
            request_id,
        )
    if any(marker in code for marker in _IMM_NOT_ACTIVATED):
        return ConfigError(code, f"{message} (fix: activate IMM for the account in this region)", request_id)
    if "file access forbidden" in lowered or "not authorized" in lowered:
        return ConfigError(
            code,
            f"{message} (fix: the IMM project's service role must be allowed to read the bucket; {_IMM_GRANT})",
            request_id,
        )
    hint = _IMM_CONFIG_HINTS.get(code)
    if hint is not None or status in (401, 403):
        return ConfigError(code, f"{message} (fix: {hint or _IMM_GRANT})", request_id)
    if 400 <= status < 500:  # about this photo: too large (0056-00000002), unsupported or corrupt, gone
        return BadImage(code, f"IMM could not analyse the image: {detail}", request_id)
    return TransientError(code, message, request_id)
