"""How a tool reaches the user's bucket: one definition shared by backfill, stats and people."""

from __future__ import annotations

from dataclasses import dataclass

import oss2

from ossfaces.settings import Settings
from ossfaces.storage import Credentials, open_bucket


class ToolError(Exception):
    """A tool cannot go on; the message says what to fix. ``usage`` marks a wrong argument (exit status 2)."""

    def __init__(self, message: str, *, usage: bool = False, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.param = param


@dataclass(frozen=True)
class BucketAccess:
    """A bucket and who may read it, as the user gave them (flags or ``ALIBABA_CLOUD_*``)."""

    bucket: str
    region: str = "cn-hangzhou"
    oss_endpoint: str = ""
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.access_key_secret, self.security_token)

    def require_credentials(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise ToolError(
                "credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET or pass --access-key-id/--access-key-secret",
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


def tool_bucket(
    settings: Settings, bucket: str, region: str, access_key_id: str, access_key_secret: str, security_token: str = ""
) -> oss2.Bucket:
    """The bucket as the CLI tools reach it: ``settings.oss_endpoint`` or, from outside Alibaba Cloud, the public one."""
    if not settings.oss_endpoint:
        settings = settings.model_copy(update={"oss_endpoint": f"https://oss-{region}.aliyuncs.com"})
    return open_bucket(settings, Credentials(access_key_id, access_key_secret, security_token), bucket, region)
