"""``ossfaces demo``: the main job end to end on this machine."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
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
    import tempfile

    from ossfaces_localstack.stack import LocalStack
    from ossfaces_tools.commands.stack import check_descriptors
    from ossfaces_tools.demo import run

    check_descriptors(project_dir, ())
    with (
        tempfile.TemporaryDirectory(prefix="ossfaces-demo-") as data_dir,
        LocalStack(Path(data_dir), project_dir=project_dir, fc_port=None, fsync=False) as stack,
    ):
        status = run(stack, photos, timeout)
    raise SystemExit(status)
