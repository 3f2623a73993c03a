"""``ossfaces up`` and ``ossfaces invoke``: the local stack.

A stack that cannot start says why in one line: a port in use (which one, and the flag to change), a trigger file
that is not YAML (which file, where), a data directory it cannot use.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ossfaces_tools.access import LOCAL_FC_PORT, LOCAL_HOST, LOCAL_IMM_PORT, LOCAL_OSS_ENDPOINT, LOCAL_OSS_PORT


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".localstack"),
    show_default=True,
    help="Where the local OSS keeps its objects (kept across restarts).",
)
@click.option(
    "--host", default=LOCAL_HOST, show_default=True, help="Interface to bind; keep loopback (published keys)."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=LOCAL_OSS_PORT, show_default=True, help="Local OSS port."
)
@click.option(
    "--fc-port",
    type=click.IntRange(0, 65535),
    default=LOCAL_FC_PORT,
    show_default=True,
    help="FC 2.0 invoke API port, for fc2 clients such as `ossfaces backfill`.",
)
@click.option(
    "--imm-port",
    type=click.IntRange(0, 65535),
    default=LOCAL_IMM_PORT,
    show_default=True,
    help="Local IMM v2 OpenAPI endpoint port (DetectImageFaces, for engine imm2 and the alibabacloud-imm20200930 SDK).",
)
@click.option(
    "--bucket", default=None, help="Local bucket (default: the one template.yml / s.yaml name, else ossfaces-local)."
)
@click.option("--region", default="cn-hangzhou", show_default=True)
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Where template.yml / s.yaml are read from.",
)
@click.option(
    "--template",
    "descriptors",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read triggers from these files instead (template.yml-style or s.yaml-style, by name).",
)
@click.option(
    "--engine",
    type=click.Choice(["imm", "imm2", "local"]),
    default="imm",
    show_default=True,
    help="The function's engine: imm calls the local OSS's imm/detectface, imm2 the local IMM v2 endpoint "
    "(both backed by the local engine), local runs the engine in the function.",
)
@click.option(
    "--mode",
    type=click.Choice(["inprocess", "bootstrap"]),
    default="inprocess",
    show_default=True,
    help="Run the handler in this process, or through function/bootstrap (FC's custom runtime protocol).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Concurrent invocations.")
@click.option(
    "--duplicates",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Deliver every event this many times (test idempotency).",
)
@click.option("--delay", type=click.FloatRange(0), default=0.0, help="Seconds to hold every delivery.")
@click.option(
    "--reorder-window",
    type=click.FloatRange(0),
    default=0.0,
    help="Collect deliveries for this many seconds, then release them newest first.",
)
def up(
    data_dir: Path,
    host: str,
    port: int,
    fc_port: int,
    imm_port: int,
    bucket: str | None,
    region: str,
    project_dir: Path,
    descriptors: tuple[Path, ...],
    engine: str,
    mode: str,
    workers: int,
    duplicates: int,
    delay: float,
    reorder_window: float,
) -> None:
    """Start the local stack in the foreground: local OSS, the triggers of template.yml / s.yaml, the function, FC's API."""
    import logging

    from ossfaces_localstack.fc.invoker import DeliveryPolicy
    from ossfaces_localstack.stack import LocalStack, run_foreground
    from ossfaces_tools.commands._shared import quiet_sdks

    check_descriptors(project_dir, descriptors)
    ports = {"--port": port, "--fc-port": fc_port, "--imm-port": imm_port}
    check_ports(host, ports)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_sdks()
    stack = LocalStack(
        data_dir, project_dir=project_dir, descriptors=list(descriptors) or None, bucket=bucket, host=host,
        oss_port=port, fc_port=fc_port, imm_port=imm_port, region=region,
        mode=mode, engine=engine,  # type: ignore[arg-type]
        policy=DeliveryPolicy(duplicates=duplicates, delay_s=delay, reorder_window_s=reorder_window), workers=workers,
    )  # fmt: skip
    try:
        run_foreground(stack, lambda s: click.echo(started(s)))
    except OSError:
        check_ports(host, ports)  # a port taken between the check and the start is named
        raise


def started(stack: Any) -> str:
    """What ``ossfaces up`` prints: the stack's own description, its warnings, how the tools reach it, and the snippet
    README shows (upload a photo, wait for its result)."""
    from ossfaces_tools.access import local_flags

    flags = local_flags(stack.oss.endpoint, stack.api.endpoint if stack.api is not None else None)
    lines = [stack.describe(), *(f"WARNING: {w}" for w in stack.loop_warnings())]
    lines.append(
        f"  the tools on this stack: ossfaces stats {stack.bucket} {flags}   (also people, backfill; invoke {flags})"
    )
    lines += ["  upload a photo (me.jpg) with oss2 and wait for its result, pasted into python:", "", stack.snippet()]
    return "\n".join(lines)


def check_descriptors(project_dir: Path, descriptors: Sequence[Path]) -> None:
    """Read each trigger file the stack will read, so that a broken one is named, with where it breaks."""
    import yaml

    from ossfaces_localstack.fc.descriptors import discover, load_triggers

    for path in list(descriptors) or discover(project_dir):
        try:
            load_triggers([path])
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise click.ClickException(f"{path} is not valid YAML{where}: {problem}; fix it") from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise click.ClickException(f"{path}: cannot read its triggers: {' '.join(str(exc).split())}") from exc


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Each port the stack will listen on is free (0 picks a free one); else one line naming it and its flag."""
    for flag, port in ports.items():
        if not port:
            continue
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        except socket.gaierror as exc:
            raise click.ClickException(f"--host {host}: not an address of this machine ({exc.strerror})") from exc
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is free
            try:
                probe.bind((host, port))
            except OSError as exc:
                why = "in use (another `ossfaces up`?)" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
                raise click.ClickException(
                    f"port {port} on {host} is {why}: stop what holds it, or start with another {flag} "
                    "(0 picks a free port)"
                ) from exc


@click.command()
@click.argument("event_file", type=click.File("rb"))
@click.option(
    "--endpoint", default=None, help="A running local OSS (e.g. http://127.0.0.1:9400); default: an ephemeral one."
)
@click.option("--local", is_flag=True, help=f"The stack `ossfaces up` runs: --endpoint {LOCAL_OSS_ENDPOINT}.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The ephemeral stack's data (default: a temporary directory).",
)
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True)
@click.option("--engine", type=click.Choice(["imm", "imm2", "local"]), default="imm", show_default=True)
@click.option("--mode", type=click.Choice(["inprocess", "bootstrap"]), default="inprocess", show_default=True)
@click.option("--region", default="cn-hangzhou", show_default=True)
@click.option(
    "--imm-endpoint",
    default=None,
    help="With --endpoint and --engine imm2: that stack's IMM v2 endpoint (`ossfaces up` prints it); default: "
    "http://<host>:9402 when --endpoint is on `ossfaces up`'s default port 9400, else required.",
)
@click.option("--access-key-id", default=None, help="With --endpoint: its key pair (default: the local OSS's).")
@click.option("--access-key-secret", default=None)
@click.option(
    "--photo",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Upload this file at every object the event names first (its size and ETag go into the event).",
)
def invoke(
    event_file: Any,
    endpoint: str | None,
    data_dir: Path | None,
    project_dir: Path,
    engine: str,
    mode: str,
    region: str,
    access_key_id: str | None,
    access_key_secret: str | None,
    photo: Path | None,
    imm_endpoint: str | None,
    local: bool,
) -> None:
    """Run the handler once on EVENT_FILE (- for stdin) against the local stack, like `s local invoke -e`, no Docker.

    Prints the log lines, then the handler's return value (or FC's error body); exits 1 if the handler raised.
    """
    import json

    from ossfaces.errors import OssFacesError
    from ossfaces_localstack.invoke import invoke_event, running_imm_endpoint

    event = event_file.read()
    check_descriptors(project_dir, ())
    if local:
        endpoint = endpoint or LOCAL_OSS_ENDPOINT
    unknown_imm = engine == "imm2" and not imm_endpoint and endpoint and running_imm_endpoint(endpoint) is None
    if endpoint and not unknown_imm:  # (a missing --imm-endpoint is said first, by invoke_event)
        reach(endpoint, access_key_id, access_key_secret, region)
    try:
        invocation = invoke_event(
            event, endpoint=endpoint, data_dir=data_dir, project_dir=project_dir, engine=engine,  # type: ignore[arg-type]
            mode=mode, access_key_id=access_key_id, access_key_secret=access_key_secret, region=region,  # type: ignore[arg-type]
            photo=photo.read_bytes() if photo else None, imm_endpoint=imm_endpoint,
        )  # fmt: skip
    except OssFacesError as exc:  # the event itself is unreadable, or the stack's IMM endpoint unknown
        raise click.ClickException(exc.message) from exc
    result = invocation.result
    for line in result.logs if result else []:
        click.echo(line, err=True)
    value = result.value if result else None
    click.echo(json.dumps(value, ensure_ascii=False, indent=2) if not isinstance(value, str) else value)
    if invocation.outcome != "succeeded":
        raise SystemExit(1)


def reach(endpoint: str, access_key_id: str | None, access_key_secret: str | None, region: str) -> None:
    """One request to the running local OSS before the handler runs: a stack that is not there, or keys it refuses,
    are said in one line (the handler would fail as FC's retryable error instead)."""
    import oss2

    from ossfaces_tools.access import BucketAccess, local_keys

    key_id, secret = local_keys()
    access = BucketAccess("", region, endpoint, access_key_id or key_id, access_key_secret or secret, local=True)
    try:
        oss2.Service(oss2.Auth(access.access_key_id, access.access_key_secret), endpoint).list_buckets(max_keys=1)
    except oss2.exceptions.OssError as exc:
        raise access.failure(exc) from exc
