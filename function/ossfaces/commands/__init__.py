"""The ``ossfaces`` command line: one group, one module per command group (DESIGN.md "The user-facing surface").

Each module only translates arguments into calls of :mod:`ossfaces.tools` (or the local stack); they import their tool
lazily so that ``ossfaces --help`` stays fast. Not deployed to FC.
"""

from __future__ import annotations

import click

from ossfaces import __version__
from ossfaces.commands.analyze import analyze
from ossfaces.commands.backfill import backfill
from ossfaces.commands.demo import demo
from ossfaces.commands.models import models
from ossfaces.commands.package import package
from ossfaces.commands.people import people
from ossfaces.commands.schema import schema
from ossfaces.commands.stack import invoke, up
from ossfaces.commands.stats import stats


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ossfaces")
def main() -> None:
    """Face metadata for photos in Alibaba Cloud OSS, and the local stack to develop it without the cloud."""


for _command in (schema, models, analyze, package, backfill, stats, people, up, invoke, demo):
    main.add_command(_command)

__all__ = ["main"]
