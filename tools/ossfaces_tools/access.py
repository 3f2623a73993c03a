"""How a tool reaches the user's bucket and the function, and what to say when it cannot.

One definition shared by every command that talks to OSS or FC (backfill, stats, people, invoke, and those to come):

- :class:`BucketAccess`: a bucket and who may read it, as the user gave them (flags or ``ALIBABA_CLOUD_*``);
- ``--local``: the stack ``ossfaces up`` runs on this machine, at the ports and with the published keys it uses by
  default (:func:`local_access`); ``ossfaces up`` prints the flags that reach it (:func:`local_flags`);
- :meth:`BucketAccess.failure`: any failure reaching OSS or FC as one line saying what went wrong and what to do
  (docs/design.md "Errors": on the command line, never a traceback).
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import oss2
import requests

from ossfaces.settings import Settings
from ossfaces.storage import Credentials, open_bucket

LOCAL_HOST = "127.0.0.1"
LOCAL_OSS_PORT = 9400
LOCAL_FC_PORT = 9401
LOCAL_IMM_PORT = 9402
LOCAL_REGION = "cn-hangzhou"
LOCAL_OSS_ENDPOINT = f"http://{LOCAL_HOST}:{LOCAL_OSS_PORT}"
LOCAL_FC_ENDPOINT = f"http://{LOCAL_HOST}:{LOCAL_FC_PORT}"
START_LOCAL = "start it with `ossfaces up` (in another terminal)"


class ToolError(Exception):
    """A tool cannot go on; the message says what to fix. ``usage`` marks a wrong argument (exit status 2)."""

    def __init__(self, message: str, *, usage: bool = False, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.param = param


def local_keys() -> tuple[str, str]:
    """The key pair every local OSS accepts (published, loopback only); imported late: ``--help`` stays fast."""
    from ossfaces_localstack.oss.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    return DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET


def is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}").hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class BucketAccess:
    """A bucket and who may read it, as the user gave them (flags or ``ALIBABA_CLOUD_*``)."""

    bucket: str
    region: str = "cn-hangzhou"
    oss_endpoint: str = ""
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""
    local: bool = False
    """Aimed at ``ossfaces up`` (``--local``): failures say how to start it."""

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.access_key_secret, self.security_token)

    @property
    def endpoint(self) -> str:
        """The OSS endpoint this access uses (the public one of ``region`` unless one was given)."""
        return self.settings().endpoint_for(self.region)

    def require_credentials(self) -> None:
        """Refuse early what no request could fix: no key pair, a bucket name OSS would refuse."""
        if not self.access_key_id or not self.access_key_secret:
            raise ToolError(
                "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, pass "
                "--access-key-id/--access-key-secret, or use --local for the stack `ossfaces up` runs",
                usage=True,
            )
        if not oss2.is_valid_bucket_name(self.bucket):
            raise ToolError(
                f"{self.bucket!r} is not a valid bucket name (3-63 characters: lower-case letters, digits, hyphens)",
                usage=True,
            )

    def settings(self) -> Settings:
        """The function's settings from the environment, with this access's endpoint (public one by default)."""
        settings = Settings()
        if self.oss_endpoint:
            settings = settings.model_copy(update={"oss_endpoint": self.oss_endpoint})
        if not settings.oss_endpoint:
            settings = settings.model_copy(update={"oss_endpoint": f"https://oss-{self.region}.aliyuncs.com"})
        return settings

    def open(self, settings: Settings | None = None) -> oss2.Bucket:
        return tool_bucket(
            settings or self.settings(),
            self.bucket,
            self.region,
            self.access_key_id,
            self.access_key_secret,
            self.security_token,
        )

    def failure(self, exc: BaseException, doing: str = "") -> ToolError:
        """``exc`` (OSS, FC or the network under them) as one line: what went wrong, and what to do."""
        if isinstance(exc, ToolError):
            return exc
        line = explain(exc, self)
        return ToolError(f"{doing}: {line}" if doing else line)


def local_access(bucket: str, *, region: str = "", oss_endpoint: str = "") -> BucketAccess:
    """``--local``: the stack ``ossfaces up`` runs here, with its published keys (``oss_endpoint``: another port)."""
    key_id, secret = local_keys()
    return BucketAccess(bucket, region or LOCAL_REGION, oss_endpoint or LOCAL_OSS_ENDPOINT, key_id, secret, "", True)


def local_flags(oss_endpoint: str, fc_endpoint: str | None = None) -> str:
    """The flags that reach a running ``ossfaces up`` from the tools: ``--local``, plus its endpoints if not default."""
    flags = ["--local"]
    if oss_endpoint.rstrip("/") != LOCAL_OSS_ENDPOINT:
        flags += ["--oss-endpoint", oss_endpoint]
    if fc_endpoint and fc_endpoint.rstrip("/") != LOCAL_FC_ENDPOINT:
        flags += ["--fc-endpoint", fc_endpoint]
    return " ".join(flags)


def local_function(project_dir: Path | None = None) -> tuple[str, str]:
    """``--local``'s FC service and function: the project's (s.yaml / template.yml here, as ``ossfaces up`` reads
    them), else the built-in ``ossfaces/ossfaces``. A descriptor it cannot read leaves the built-in names: FC's answer
    (no such function) then says which flags to give."""
    from ossfaces_localstack.fc.descriptors import discover, load_triggers

    try:
        triggers = load_triggers(discover(project_dir or Path.cwd()))
    except Exception:  # `ossfaces up` reports a broken descriptor; here it only picks a default
        triggers = []
    spec = triggers[0].function if triggers else None
    return (spec.service or spec.name, spec.name) if spec else ("ossfaces", "ossfaces")


def tool_bucket(
    settings: Settings, bucket: str, region: str, access_key_id: str, access_key_secret: str, security_token: str = ""
) -> oss2.Bucket:
    """The bucket as the CLI tools reach it: ``settings.oss_endpoint`` or, from outside Alibaba Cloud, the public one."""
    if not settings.oss_endpoint:
        settings = settings.model_copy(update={"oss_endpoint": f"https://oss-{region}.aliyuncs.com"})
    return open_bucket(settings, Credentials(access_key_id, access_key_secret, security_token), bucket, region)


def check_reachable(endpoint: str, service: str, flag: str, timeout: float = 5.0) -> None:
    """One TCP connection to ``endpoint`` before any work: a service out of reach is said at once, in one line
    (fc2 alone retries a refused connection for 30 s, and a backfill would meet it once per photo)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return
    except ValueError as exc:  # a port that is not a number
        raise ToolError(f"{flag} {endpoint!r} is not a URL ({exc})", usage=True) from exc
    except OSError as exc:
        reason = network_failure(exc) or (exc.strerror or str(exc))
        what = START_LOCAL if is_loopback(endpoint) else f"check {flag}, and the network"
        raise ToolError(f"cannot reach {service} at {endpoint} ({reason}): {what}") from exc


# --------------------------------------------------------------------------------------------------- failures

_KEY_CODES = frozenset({"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecurityToken", "SecurityTokenExpired"})


def explain(exc: BaseException, access: BucketAccess | None = None, fc_endpoint: str = "") -> str:
    """One line for a failure to reach or use OSS or FC. Unknown failures keep their own first line."""
    import fc2

    access = access or BucketAccess("")
    fc_error = _find(exc, fc2.fc_exceptions.FcError)
    if fc_error is not None:
        return _fc_refusal(fc_error, fc_endpoint)
    oss_error = _find(exc, oss2.exceptions.OssError)
    network = network_failure(exc)
    if network is not None:
        service, where, flag = ("OSS", access.endpoint, "--oss-endpoint")
        if oss_error is None and fc_endpoint:
            service, where, flag = ("FC", fc_endpoint, "--fc-endpoint")
        if network == "not a URL":
            return f"{flag} {where!r} is not a URL (e.g. http://127.0.0.1:9400 or https://oss-cn-hangzhou.aliyuncs.com)"
        what = START_LOCAL if is_loopback(where) else f"check {flag} and --region, and the network"
        return f"cannot reach {service} at {where} ({network}): {what}"
    if isinstance(oss_error, oss2.exceptions.ClientError):
        return str(oss_error.body or oss_error).removeprefix("ClientError: ")
    if oss_error is not None:
        return _oss_refusal(oss_error, access)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _oss_refusal(exc: oss2.exceptions.OssError, access: BucketAccess) -> str:
    code, where = str(exc.code or exc.status), f"oss://{access.bucket}"
    said = f"{exc.status} {code}" + (f", request id {exc.request_id}" if exc.request_id else "")
    if code in _KEY_CODES:
        hint = "check ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (or --access-key-id/--access-key-secret)"
        if code in ("InvalidSecurityToken", "SecurityTokenExpired"):
            hint = "get a new STS token (ALIBABA_CLOUD_SECURITY_TOKEN)"
        elif access.local:
            hint = "the stack `ossfaces up` runs takes its published keys: is another server on that port?"
        elif is_loopback(access.endpoint):
            hint = "for the stack `ossfaces up` runs, pass --local (its keys)"
        return f"OSS at {access.endpoint} refused the key pair ({said}): {hint}"
    if code == "NoSuchBucket":
        return f"no bucket {access.bucket!r} at {access.endpoint} ({said}): check the bucket name and --region"
    if code == "AccessDenied" or exc.status == 403:
        return (
            f"access denied to {where} ({said}: {exc.message}): the key needs oss:ListObjects and oss:GetObject "
            "(people and backfill also oss:PutObject, oss:DeleteObject)"
        )
    return f"OSS answered {said}: {exc.message or 'no message'}"


def _fc_refusal(exc: object, fc_endpoint: str) -> str:
    status, code = getattr(exc, "status_code", 0), getattr(exc, "err_code", "") or ""
    body = str(getattr(exc, "message", "") or "")
    with contextlib.suppress(ValueError, AttributeError):
        body = str(json.loads(body).get("ErrorMessage") or "")  # fc2 passes FC's error body as JSON text
    message = body.strip().splitlines()
    said = f"{status} {code}".strip() + (f": {message[0][:200]}" if message else "")
    where = f"FC at {fc_endpoint}" if fc_endpoint else "FC"
    if status in (401, 403) or code in _KEY_CODES or code in ("InvalidAccessKeyID", "AccessDenied"):
        return f"{where} refused the key pair ({said}): check the keys and that they may fc:InvokeFunction"
    if status == 404:
        return f"{where} has no such function ({said}): check --service, --function and --qualifier"
    return f"{where} answered {said}"


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, oss2's ``exception``, urllib3's ``reason``, exception args."""
    out: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(out) < 32:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is seen for seen in out):
            continue
        out.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "exception", None), getattr(e, "reason", None), *e.args]
    return out


def network_failure(exc: BaseException) -> str | None:
    """Why a connection failed, in a few words; None when it did not fail on the network."""
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
            return "not a URL"
        if isinstance(e, requests.exceptions.InvalidURL):
            return "not a URL"
        if isinstance(e, socket.gaierror):
            return "host not found"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, (TimeoutError, requests.exceptions.Timeout)):
            return "no answer in time"
    for e in chain:
        if isinstance(e, (requests.exceptions.ConnectionError, ConnectionError)):
            return "connection failed: " + (str(e).splitlines() or [type(e).__name__])[0][:160]
    return None


__all__ = [
    "LOCAL_FC_ENDPOINT",
    "LOCAL_FC_PORT",
    "LOCAL_HOST",
    "LOCAL_IMM_PORT",
    "LOCAL_OSS_ENDPOINT",
    "LOCAL_OSS_PORT",
    "LOCAL_REGION",
    "BucketAccess",
    "ToolError",
    "check_reachable",
    "explain",
    "local_access",
    "local_flags",
    "local_function",
    "network_failure",
]
