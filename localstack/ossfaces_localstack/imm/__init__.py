"""The local IMM v2 OpenAPI endpoint (``DetectImageFaces``), on a port of its own, beside the local OSS.

It shares the local OSS's keys (static and STS-issued) and storage, and the local face engine that answers
``imm/detectface``: the real ``alibabacloud-imm20200930`` client works against it unchanged (``endpoint`` +
``protocol='http'``). Nothing here is imported by the deployed function.
"""

from __future__ import annotations

from collections.abc import Sequence

from ossfaces.settings import Settings
from ossfaces_localstack.fc.api import ApiServer
from ossfaces_localstack.oss import LocalOss, OssError

from .errors import ImmError
from .nonces import NonceStore
from .server import Call, FaceDetector, ImmApp, ObjectReader, TooLarge
from .signature import MAX_SKEW_S, KeyStore

DEFAULT_PROJECT = "ossfaces-local"
NONCES_FILE = "imm-nonces.sqlite3"

__all__ = ["DEFAULT_PROJECT", "Call", "ImmApp", "ImmError", "LocalImm", "oss_keys", "oss_reader"]

# The local OSS's refusals of a key or token → what IMM's gateway answers for them.
_KEY_ERRORS = {
    "InvalidAccessKeyId": (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
    "InvalidSecurityToken": (400, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed."),
    "SecurityTokenExpired": (400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."),
}


def oss_keys(oss: LocalOss) -> KeyStore:
    """The local OSS's key store (its static pair and the STS credentials it issued), as IMM's key lookup."""

    def secret_for(key_id: str, token: str | None) -> str:
        try:
            return oss.auth.secret_for(key_id, token)  # one store of keys and STS tokens for the whole stack
        except OssError as exc:
            status, code, message = _KEY_ERRORS.get(exc.code, (400, exc.code, exc.message))
            raise ImmError(status, code, message) from exc

    return secret_for


def oss_reader(oss: LocalOss) -> ObjectReader:
    """Reads ``oss://bucket/key`` from the local OSS's storage (as IMM reads the bucket through its service role)."""

    def read(bucket: str, key: str, limit: int) -> bytes:
        try:
            meta, body = oss.storage.open(bucket, key)
        except OssError as exc:
            raise KeyError(f"{bucket}/{key}") from exc
        with body:
            if meta.size > limit:
                raise TooLarge(meta.size)
            return body.read(limit + 1)

    return read


class LocalImm:
    """The endpoint as an object: ``start``/``stop``, ``endpoint``, and ``calls`` / ``faults`` for tests."""

    def __init__(
        self,
        oss: LocalOss,
        detector: FaceDetector,
        *,
        projects: Sequence[str] = (DEFAULT_PROJECT,),
        host: str = "127.0.0.1",
        port: int = 0,
        max_image_bytes: int | None = None,
    ) -> None:
        """``max_image_bytes``: the largest object read for an analysis (default: the function's
        ``OSSFACES_MAX_IMAGE_BYTES``). Nonces are kept in the OSS's data directory, across restarts."""
        limit = max_image_bytes if max_image_bytes is not None else Settings().max_image_bytes
        self.nonces = NonceStore(oss.data_dir / NONCES_FILE, 2 * MAX_SKEW_S)
        self.app = ImmApp(
            oss_keys(oss), oss_reader(oss), detector, tuple(projects), oss.region, limit, nonces=self.nonces
        )
        self.region = oss.region
        self.projects = tuple(projects)
        self._server = ApiServer(self.app, host, port)

    @property
    def endpoint(self) -> str:
        return self._server.endpoint

    @property
    def calls(self) -> list[Call]:
        return self.app.calls

    def inject(self, *errors: ImmError) -> None:
        """Answer the next requests with these errors, in order (throttling, 5xx… for tests)."""
        self.app.faults.extend(errors)

    def start(self) -> LocalImm:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.nonces.close()

    def __enter__(self) -> LocalImm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
