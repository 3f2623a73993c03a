"""What several commands share: the bucket options, and turning a tool's error into click's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from ossfaces_tools.access import BucketAccess, ToolError


def oss_options(command: Any) -> Any:
    """Where the bucket is and who may read it: shared by ``backfill``, ``stats`` and ``people``."""
    options = [
        click.argument("bucket"),
        click.option("--prefix", default="", show_default=True, help="Only keys under this prefix."),
        click.option("--region", envvar="OSSFACES_REGION", default="cn-hangzhou", show_default=True),
        click.option(
            "--oss-endpoint",
            envvar="OSSFACES_OSS_ENDPOINT",
            default="",
            help="Default: the public endpoint of --region (env OSSFACES_OSS_ENDPOINT).",
        ),
        click.option("--access-key-id", envvar="ALIBABA_CLOUD_ACCESS_KEY_ID", default="", show_envvar=True),
        click.option("--access-key-secret", envvar="ALIBABA_CLOUD_ACCESS_KEY_SECRET", default="", show_envvar=True),
        click.option("--security-token", envvar="ALIBABA_CLOUD_SECURITY_TOKEN", default="", show_envvar=True),
        click.option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def bucket_access(options: dict[str, Any]) -> BucketAccess:
    """Take the bucket options out of a command's keyword arguments (``prefix`` and ``progress`` stay)."""
    return BucketAccess(
        bucket=options.pop("bucket"),
        region=options.pop("region"),
        oss_endpoint=options.pop("oss_endpoint"),
        access_key_id=options.pop("access_key_id"),
        access_key_secret=options.pop("access_key_secret"),
        security_token=options.pop("security_token"),
    )


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """A :class:`ToolError` becomes click's usage error (exit 2) or plain error (exit 1), with its message only."""
    try:
        yield
    except ToolError as exc:
        if exc.usage and exc.param:
            raise click.BadParameter(exc.message, param_hint=exc.param) from exc
        if exc.usage:
            raise click.UsageError(exc.message) from exc
        raise click.ClickException(exc.message) from exc
