"""``ossfaces invoke``: run the handler once on an event, against a running stack or an ephemeral one."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ossfaces.errors import ConfigError, OssFacesError
from ossfaces.events import parse_event
from ossfaces_localstack.fc.context import Credentials, FCContext, FunctionMeta, ServiceMeta
from ossfaces_localstack.fc.descriptors import discover, load_triggers
from ossfaces_localstack.fc.invoker import Invocation, Invoker
from ossfaces_localstack.fc.runner import Mode, make_runner
from ossfaces_localstack.fc.triggers import DEFAULT_ACCOUNT_ID, FunctionSpec
from ossfaces_localstack.imm import DEFAULT_PROJECT
from ossfaces_localstack.stack import DEFAULT_IMM_PORT, DEFAULT_OSS_PORT, LocalStack


def invoke_event(
    event: bytes,
    *,
    endpoint: str | None = None,
    data_dir: Path | None = None,
    project_dir: Path | None = None,
    engine: Literal["imm", "imm2", "local"] = "imm",
    mode: Mode = "inprocess",
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    region: str = "cn-hangzhou",
    photo: bytes | None = None,
    imm_endpoint: str | None = None,
) -> Invocation:
    """Run the handler once on ``event`` (``ossfaces invoke``): against a running stack at ``endpoint``, or an ephemeral one.

    The ephemeral stack has no triggers (only this invocation runs) and creates the buckets the event names. With
    ``photo``, those bytes are first uploaded at every object the event names and each record's size and eTag are set
    from the upload, so the event meets a real object as it would in FC. Engine ``imm2`` against a running stack calls
    its IMM v2 endpoint: ``imm_endpoint``, else the one ``running_imm_endpoint`` implies (a ``ConfigError`` if none).
    """
    try:
        buckets = sorted({record.bucket for record in parse_event(event)})
    except OssFacesError:
        buckets = []  # not an OSS event: the handler will say so, as it would in FC
    if imm_endpoint and not endpoint:
        raise ConfigError(
            "ImmEndpointWithoutEndpoint", "--imm-endpoint names a running stack's IMM: give its --endpoint too"
        )
    if endpoint:
        if engine == "imm2":
            imm_endpoint = imm_endpoint or running_imm_endpoint(endpoint)
            if not imm_endpoint:
                raise ConfigError(
                    "NoImmEndpoint",
                    f"engine imm2 against {endpoint} needs that stack's --imm-endpoint (`ossfaces up` prints it as "
                    f"'IMM v2 endpoint'; only the default OSS port {DEFAULT_OSS_PORT} implies port {DEFAULT_IMM_PORT})",
                )
        if photo is not None:
            from ossfaces_localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

            key_pair = (access_key_id or DEFAULT_ACCESS_KEY_ID, access_key_secret or DEFAULT_ACCESS_KEY_SECRET)
            event = upload_named_objects(event, endpoint, *key_pair, photo)
        return _invoke_remote(
            event, endpoint, project_dir, engine, mode, access_key_id, access_key_secret, region, imm_endpoint
        )
    with tempfile.TemporaryDirectory(prefix="ossfaces-invoke-") as scratch:
        stack = LocalStack(
            data_dir or Path(scratch), project_dir=project_dir, bucket=buckets[0] if buckets else None,
            fc_port=None, engine=engine, mode=mode, region=region, fsync=False,
        )  # fmt: skip
        for extra in buckets[1:]:
            stack.oss.storage.create_bucket(extra)
        function = stack.function()
        stack.triggers = []  # only this invocation
        with stack:
            if photo is not None:
                oss = stack.oss
                event = upload_named_objects(event, oss.endpoint, oss.access_key_id, oss.access_key_secret, photo)
            return stack.invoke(event, function.qualified_name)


def running_imm_endpoint(oss_endpoint: str) -> str | None:
    """The IMM v2 endpoint of the ``ossfaces up`` whose OSS is ``oss_endpoint``, when that can be known without asking:
    only ``up``'s default OSS port implies its default IMM port (same host); for any other, ``None`` (not guessed)."""
    parts = urlsplit(oss_endpoint)
    if parts.port != DEFAULT_OSS_PORT or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme or 'http'}://{host}:{DEFAULT_IMM_PORT}"


def upload_named_objects(event: bytes, endpoint: str, key_id: str, secret: str, body: bytes) -> bytes:
    """Put ``body`` at every object ``event`` names (any envelope) and return the event with their real size and eTag."""
    import oss2

    payload = json.loads(event)
    envelopes = payload if isinstance(payload, list) else [payload]
    records = [r for env in envelopes for r in (env["events"] if "events" in env else [env.get("data", {})])]
    for record in records:
        bucket = oss2.Bucket(oss2.Auth(key_id, secret), endpoint, record["oss"]["bucket"]["name"])
        key = record["oss"]["object"]["key"]
        bucket.put_object(key, body)
        head = bucket.head_object(key)
        record["oss"]["object"].update(size=head.content_length, eTag=head.etag)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _invoke_remote(
    event: bytes,
    endpoint: str,
    project_dir: Path | None,
    engine: Literal["imm", "imm2", "local"],
    mode: Mode,
    access_key_id: str | None,
    access_key_secret: str | None,
    region: str,
    imm_endpoint: str | None = None,
) -> Invocation:
    """One invocation against an already running local OSS (and its IMM v2 endpoint, if given), signed with its (local,
    published) key pair."""
    from ossfaces_localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    declared = load_triggers(discover(project_dir or Path.cwd()))
    function = (
        declared[0].function if declared else FunctionSpec("ossfaces", "ossfaces", initializer="index.initializer")
    )
    environment = {"OSSFACES_OSS_ENDPOINT": endpoint, "OSSFACES_ENGINE": engine}
    if imm_endpoint:
        environment["OSSFACES_IMM_ENDPOINT"] = imm_endpoint
        if not function.environment.get("OSSFACES_IMM_PROJECT"):
            environment["OSSFACES_IMM_PROJECT"] = DEFAULT_PROJECT  # as the stack sets it (and its endpoint serves)
    runner = make_runner(mode, function, environment)
    credentials = Credentials(access_key_id or DEFAULT_ACCESS_KEY_ID, access_key_secret or DEFAULT_ACCESS_KEY_SECRET)

    def context_for(spec: FunctionSpec, request_id: str) -> FCContext:
        meta = FunctionMeta(spec.name, spec.handler, spec.memory, spec.timeout, spec.initializer)
        return FCContext(
            request_id, credentials, meta, ServiceMeta(spec.service or spec.name), region, DEFAULT_ACCOUNT_ID
        )

    runner.start()
    invoker = Invoker({function.qualified_name: runner}, context_for, workers=1)
    try:
        return invoker.invoke_sync(function, event, source="invoke")
    finally:
        invoker.stop()
        runner.stop()
