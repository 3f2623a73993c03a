"""``ossfaces schema``: the JSON Schema of the result document."""

from __future__ import annotations

import click


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="schema/faces.schema.json", show_default=True)
def schema(output: str) -> None:
    """Write the JSON Schema of the .faces.json document (generated from the pydantic models)."""
    from pathlib import Path

    from ossfaces.document import json_schema

    Path(output).write_text(json_schema(), encoding="utf-8")
    click.echo(f"wrote {output}")
