"""The ``ossfaces`` command line: one group, one subcommand per product verb (DESIGN.md "The user-facing surface").

Dev-only: not deployed to FC. Each command imports its module lazily so that ``ossfaces --help`` stays fast.
"""

from __future__ import annotations

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
