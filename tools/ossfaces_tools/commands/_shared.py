"""What several commands share: the bucket options (``--local`` among them), and one line for every failure.

Every command runs inside :class:`OneLineErrors` (the ``ossfaces`` group): a failure a user can cause (a
:class:`~ossfaces_tools.access.ToolError`, OSS or FC refusing, the network, a file that cannot be written, a
configuration the function refuses) ends as one ``Error: …`` line and a non-zero exit status, never a traceback.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ossfaces_tools.access import BucketAccess, ToolError, explain, local_access

F = TypeVar("F", bound=Callable[..., Any])

ACCESS = "ossfaces.access"
FC_ENDPOINT = "ossfaces.fc_endpoint"


def oss_options(command: Any) -> Any:
    """Where the bucket is and who may read it: shared by every command that reads a bucket."""
    options = [
        click.argument("bucket"),
        click.option("--prefix", default="", show_default=True, help="Only keys under this prefix."),
        click.option(
            "--local",
            is_flag=True,
            help="Use the stack `ossfaces up` runs on this machine (its endpoint and published keys).",
        ),
        click.option("--region", envvar="OSSFACES_REGION", default="cn-hangzhou", show_default=True),
        click.option(
            "--oss-endpoint",
            envvar="OSSFACES_OSS_ENDPOINT",
            default="",
            help="Default: the public endpoint of --region (env OSSFACES_OSS_ENDPOINT); with --local, `ossfaces up`'s.",
        ),
        click.option("--access-key-id", envvar="ALIBABA_CLOUD_ACCESS_KEY_ID", default="", show_envvar=True),
        click.option("--access-key-secret", envvar="ALIBABA_CLOUD_ACCESS_KEY_SECRET", default="", show_envvar=True),
        click.option("--security-token", envvar="ALIBABA_CLOUD_SECURITY_TOKEN", default="", show_envvar=True),
        click.option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def output_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An output path whose folder exists and can be written, checked before any work (one line if not)."""
    if value is None:
        return None
    folder = Path(value).absolute().parent
    flag = param.opts[0] if param.opts else param.name
    if not folder.is_dir():
        raise UsageLine(f"{flag} {value}: there is no folder {folder}")
    if not os.access(folder, os.W_OK):
        raise UsageLine(f"{flag} {value}: the folder {folder} cannot be written")
    return value


def output_option(flag: str, help: str) -> Callable[[F], F]:
    """``--csv``/``--png``/``--html``: an optional file path, checked by :func:`output_file` before any work."""
    return click.option(
        flag, f"{flag[2:]}_path", type=click.Path(dir_okay=False), default=None, callback=output_file, help=help
    )


def given(name: str) -> bool:
    """Whether the option ``name`` was typed on the command line (not taken from a default or the environment)."""
    return click.get_current_context().get_parameter_source(name) is ParameterSource.COMMANDLINE


def bucket_access(options: dict[str, Any]) -> BucketAccess:
    """Take the bucket options out of a command's keyword arguments (``prefix`` and ``progress`` stay).

    With ``--local`` the cloud's variables (``ALIBABA_CLOUD_*``, ``OSSFACES_OSS_ENDPOINT``) are left aside: only an
    endpoint or region typed on the command line changes where the local stack is looked for.
    """
    bucket, local, region = options.pop("bucket"), options.pop("local"), options.pop("region")
    endpoint = options.pop("oss_endpoint")
    key_id, secret, token = (
        options.pop("access_key_id"),
        options.pop("access_key_secret"),
        options.pop("security_token"),
    )
    if local:
        access = local_access(
            bucket, region=region if given("region") else "", oss_endpoint=endpoint if given("oss_endpoint") else ""
        )
    else:
        access = BucketAccess(bucket, region, endpoint, key_id, secret, token)
    click.get_current_context().meta[ACCESS] = access
    return access


class OneLineErrors(click.Group):
    """A group whose commands end every failure a user can cause in one line (see the module's note)."""

    def invoke(self, ctx: click.Context) -> Any:
        quiet_sdks()
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except ToolError as exc:
            raise as_click_error(exc) from exc
        except Exception as exc:
            line = one_line(exc, ctx.meta.get(ACCESS), ctx.meta.get(FC_ENDPOINT, ""))
            if line is None:
                raise
            raise click.ClickException(line) from exc


class UsageLine(click.ClickException):
    """A wrong argument, said in one line (exit status 2, like click's usage errors, without the usage text)."""

    exit_code = 2


def as_click_error(exc: ToolError) -> click.ClickException:
    message = flat(exc.message)
    if exc.usage and exc.param:
        return UsageLine(f"{exc.param}: {message}")
    return UsageLine(message) if exc.usage else click.ClickException(message)


def one_line(exc: Exception, access: BucketAccess | None, fc_endpoint: str = "") -> str | None:
    """The line for a failure a user can cause, or None for a bug (which keeps its traceback)."""
    import fc2
    import oss2
    import requests

    from ossfaces.errors import OssFacesError

    if isinstance(exc, OssFacesError):  # the function's own verdict (e.g. a configuration it refuses)
        return flat(f"{exc.code}: {exc.message}")
    if isinstance(exc, (oss2.exceptions.OssError, requests.RequestException, fc2.fc_exceptions.FcError)):
        return flat(explain(exc, access, fc_endpoint))
    if isinstance(exc, ConnectionError | TimeoutError):
        return flat(explain(exc, access, fc_endpoint))
    if isinstance(exc, OSError) and exc.filename is not None:  # a file the user named: missing, unwritable…
        return flat(f"{exc.filename}: {exc.strerror or exc}")
    return None


def flat(text: str) -> str:
    """One line, whatever the message holds."""
    return " ".join(str(text).split())


class _NotFromSdk(logging.Filter):
    """Drops what fc2 logs on the root logger about every error answer: the command says it in its own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return Path(record.pathname).parent.name != "fc2"


def quiet_sdks() -> None:
    """The SDKs' own noise off, whoever shows the log (the command's one line says what matters): oss2 logs every
    404 at INFO (the function's HEAD of a result not yet written), urllib3 each retry, fc2 each refusal."""
    logging.getLogger("oss2").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    root = logging.getLogger()
    if not any(isinstance(f, _NotFromSdk) for f in root.filters):
        root.addFilter(_NotFromSdk())
