"""``ossfaces backfill``: flags into a :class:`~ossfaces_tools.backfill.BackfillRequest`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ossfaces_tools.commands._shared import FC_ENDPOINT, bucket_access, given, oss_options


@click.command()
@oss_options
@click.option(
    "--fc-endpoint",
    envvar="OSSFACES_FC_ENDPOINT",
    default="",
    help="https://<account>.<region>.fc.aliyuncs.com (env OSSFACES_FC_ENDPOINT); with --local, `ossfaces up`'s.",
)
@click.option(
    "--service",
    envvar="OSSFACES_FC_SERVICE",
    default="",
    help="FC 2.0 service of the deployed function (with --local: the project's, from s.yaml / template.yml here).",
)
@click.option("--function", "function_name", envvar="OSSFACES_FC_FUNCTION", default="", help="The deployed function.")
@click.option("--qualifier", default=None, help="Version or alias to invoke (default: LATEST).")
@click.option("--in-process", is_flag=True, help="Process in this process with a worker pool instead of invoking FC.")
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
@click.option(
    "--wait-claims",
    is_flag=True,
    help="A photo claimed by an analysis in progress (or by a crashed one): wait for the claim to be released or to "
    "expire, then hand the photo over (the function takes an expired claim over). Default: report it as failed, with why.",
)
@click.option(
    "--max-claim-wait",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="With --wait-claims: give up on a claim after this long (default: until it expires).",
)
@click.option(
    "--inventory",
    default=None,
    metavar="WHERE",
    help="Objects from an inventory report instead of listing: oss://BUCKET/PATH (a manifest.json, or a folder: its "
    "newest report) or 'latest' (the newest report of the bucket's own rules). For millions of objects.",
)
@click.option("--count/--no-count", default=True, help="List once first to give the progress bar a total and an ETA.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def backfill(function_name: str, **options: Any) -> None:
    """Process photos already in BUCKET: async FC invocations through fc2 (or --in-process), for missing or stale results."""
    from ossfaces_tools.backfill import BackfillRequest, FcTarget, Options, run_session

    local = options["local"]
    access = bucket_access(options)
    fc = FcTarget(options["fc_endpoint"], options["service"], function_name, options["qualifier"])
    if local:
        fc = local_fc_target(fc)
    click.get_current_context().meta[FC_ENDPOINT] = fc.endpoint
    request = BackfillRequest(
        access,
        Options(
            prefix=options["prefix"], workers=options["workers"], rate=options["rate"], batch=options["batch"],
            dry_run=options["dry_run"], force=options["force"], checkpoint=options["checkpoint"],
            restart=options["restart"], max_failures=options["max_failures"], stop_after=options["stop_after"],
            wait_claims=options["wait_claims"], max_claim_wait=options["max_claim_wait"],
        ),
        fc, local=options["in_process"], engine_tag=options["engine_tag"], inventory=options["inventory"],
        count=options["count"],
        as_json=options["as_json"], progress=options["progress"],
    )  # fmt: skip
    raise SystemExit(run_session(request))


def local_fc_target(fc: Any) -> Any:
    """``--local``: FC's API of ``ossfaces up`` and the project's function, unless typed on the command line (the
    cloud's ``OSSFACES_FC_*`` variables are left aside)."""
    from dataclasses import replace

    from ossfaces_tools.access import LOCAL_FC_ENDPOINT, local_function

    endpoint = fc.endpoint if given("fc_endpoint") else LOCAL_FC_ENDPOINT
    typed = (fc.service if given("service") else "", fc.function if given("function_name") else "")
    service, function = typed if all(typed) else local_function()
    return replace(fc, endpoint=endpoint, service=typed[0] or service, function=typed[1] or function)
