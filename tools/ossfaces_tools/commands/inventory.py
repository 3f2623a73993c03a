"""``ossfaces inventory``: the bucket's inventory rules (OSS PutBucketInventory), and a report now on the local stack."""

from __future__ import annotations

from typing import Any

import click

from ossfaces_tools.commands._shared import bucket_access, oss_options


@click.group()
def inventory() -> None:
    """Bucket inventory: the way to enumerate millions of objects (backfill, index, stats and people read it)."""


@inventory.command("put")
@oss_options
@click.option("--id", "inventory_id", required=True, help="The rule's name, unique in the bucket.")
@click.option("--destination", required=True, help="Bucket the reports are written to (same region).")
@click.option("--destination-prefix", default="", help="Folder of the reports in the destination bucket.")
@click.option("--frequency", type=click.Choice(["Daily", "Weekly"]), default="Daily", show_default=True)
@click.option("--account-id", default="1000000000000000", show_default=True, help="Your Alibaba Cloud account id.")
@click.option("--role-arn", default="acs:ram::1000000000000000:role/AliyunOSSRole", show_default=True,
              help="The RAM role OSS assumes to write the reports.")  # fmt: skip
def put_command(inventory_id: str, destination: str, destination_prefix: str, frequency: str, account_id: str,
                role_arn: str, **options: Any) -> None:  # fmt: skip
    """Add an inventory rule to BUCKET (objects under --prefix; Size, LastModifiedDate, ETag and more per object)."""
    from oss2 import models

    prefix = options.pop("prefix")
    options.pop("progress")
    access = bucket_access(options)
    config = models.InventoryConfiguration(
        inventory_id=inventory_id, is_enabled=True, included_object_versions="Current",
        inventory_filter=models.InventoryFilter(prefix=prefix) if prefix else None,
        inventory_schedule=models.InventorySchedule(frequency),
        optional_fields=["Size", "LastModifiedDate", "ETag", "StorageClass", "IsMultipartUploaded", "EncryptionStatus"],
        inventory_destination=models.InventoryDestination(models.InventoryBucketDestination(
            account_id=account_id, role_arn=role_arn, bucket=destination, inventory_format="CSV",
            prefix=destination_prefix or None)),
    )  # fmt: skip
    _oss(lambda: access.open().put_bucket_inventory_configuration(config), f"inventory {inventory_id}")
    click.echo(f"inventory {inventory_id}: reports go to oss://{destination}/{destination_prefix}")


@inventory.command("list")
@oss_options
def list_command(**options: Any) -> None:
    """The inventory rules of BUCKET."""
    options.pop("prefix")
    options.pop("progress")
    access = bucket_access(options)
    rules = _oss(lambda: access.open().list_bucket_inventory_configurations().inventory_configurations, "rules")
    for rule in rules:
        dest = rule.inventory_destination.bucket_destination
        flt = rule.inventory_filter.prefix if rule.inventory_filter else ""
        click.echo(f"{rule.inventory_id}\t{'enabled' if rule.is_enabled else 'disabled'}\t"
                   f"{rule.inventory_schedule.frequency}\tprefix={flt or ''}\t-> oss://{dest.bucket}/{dest.prefix or ''}")  # fmt: skip


@inventory.command("run")
@oss_options
@click.option("--id", "inventory_id", required=True, help="The rule to run.")
def run_command(inventory_id: str, **options: Any) -> None:
    """Local stack only: write rule --id's report now (OSS itself runs rules daily or weekly)."""
    from ossfaces_tools.inventory import run_local_inventory

    options.pop("prefix")
    options.pop("progress")
    access = bucket_access(options)
    access.require_credentials()
    manifest = run_local_inventory(access.open(), inventory_id)
    click.echo(manifest or "no object matched the rule: no report written (as OSS)")


def _oss(call: Any, what: str) -> Any:
    import oss2

    from ossfaces_tools.access import ToolError

    try:
        return call()
    except oss2.exceptions.OssError as exc:
        raise ToolError(f"{what}: {exc.status} {exc.code}: {exc.message}") from exc
