"""The ``ossfaces`` command line: one group, one module per command group (README, "The `ossfaces` command").

Each module only translates arguments into calls of :mod:`ossfaces_tools` (or the local stack); they import their tool
lazily so that ``ossfaces --help`` stays fast. Every failure a user can cause ends in one line (``_shared.OneLineErrors``).
Not deployed to FC.
"""

from __future__ import annotations

import click

from ossfaces import __version__
from ossfaces.heap import keep_large_blocks_mapped
from ossfaces_tools.commands._shared import OneLineErrors
from ossfaces_tools.commands.analyze import analyze
from ossfaces_tools.commands.backfill import backfill
from ossfaces_tools.commands.demo import demo
from ossfaces_tools.commands.index import index, query
from ossfaces_tools.commands.inventory import inventory
from ossfaces_tools.commands.models import models
from ossfaces_tools.commands.package import package
from ossfaces_tools.commands.people import people
from ossfaces_tools.commands.schema import schema
from ossfaces_tools.commands.stack import invoke, up
from ossfaces_tools.commands.stats import stats


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ossfaces")
def main() -> None:
    """Face metadata for photos in Alibaba Cloud OSS, and the local stack to develop it without the cloud."""
    keep_large_blocks_mapped()  # the engine's heap policy: people and the engine hold and free blocks of megabytes


for _command in (schema, models, analyze, package, backfill, stats, people, index, query, inventory, up, invoke, demo):
    main.add_command(_command)

__all__ = ["main"]
