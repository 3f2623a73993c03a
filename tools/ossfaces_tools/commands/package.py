"""``ossfaces package``: the deployable bundle for FC."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
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
    from ossfaces_tools.packaging import PackagingError, build

    root = Path(__file__).resolve().parents[3]
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
