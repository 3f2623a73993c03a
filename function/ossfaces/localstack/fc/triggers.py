"""OSS triggers and the functions they fire, read from fun's ``template.yml`` and Serverless Devs' ``s.yaml``.

One place decides what a trigger is and whether an upload matches it, so the local stack fires exactly when FC would:
the OSS event name is one of the trigger's events (``oss:ObjectCreated:*`` covers every created event) and the key has
the trigger's prefix and suffix (research: FC "OSS triggers"; fun ``oss-event.js``; fc3 ``IOssTriggerConfig``).

Shapes read:
- fun (``Transform: Aliyun::Serverless-2018-04-03``): ``Resources.<service>.<function>.Events.<name>`` with ``Type: OSS``
  and ``Properties.{BucketName, Events, Filter.Key.{Prefix, Suffix}}`` (lower-case spellings accepted too).
- fc3 (``edition: 3.0.0``): ``resources.<r>.props.triggers[]`` with ``triggerType: oss``,
  ``sourceArn: acs:oss:<region>:<uid>:<bucket>`` and ``triggerConfig.{events, filter.key.{prefix, suffix}}``;
  devsapp/fc (FC 2.0) ``props.{service, function, triggers[].{type, config}}`` likewise.
``${vars.x}``, ``${config('AccountID')}`` and ``${env('X')}`` are resolved; anything else is left as written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("ossfaces.localstack.fc")

DEFAULT_ACCOUNT_ID = "1234567890123456"  # a local owner UID: FC events always carry one
DEFAULT_ASYNC_RETRIES = 3  # FC's default maxAsyncRetryAttempts
TRIGGER_FILES = ("template.yml", "template.yaml", "s.yaml", "s.yml")


@dataclass(frozen=True)
class FunctionSpec:
    """What FC knows about a function that the local stack needs to run it like FC does."""

    name: str
    service: str = ""  # FC 2.0 service; FC 3.0 has none
    handler: str = "index.handler"
    initializer: str = ""
    runtime: str = ""
    memory: int = 512
    timeout: int = 60
    code_dir: Path | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    max_async_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    region: str = ""
    source: Path | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.service}/{self.name}" if self.service else self.name


@dataclass(frozen=True)
class Trigger:
    """One native OSS trigger: which bucket, which events, which keys, which function."""

    name: str
    function: FunctionSpec
    bucket: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""
    region: str = ""
    account_id: str = DEFAULT_ACCOUNT_ID
    qualifier: str = "LATEST"
    source: Path | None = None

    @property
    def rule_id(self) -> str:
        """A stable 40-hex id, like the event-notification rule id FC creates for a trigger."""
        seed = f"{self.function.qualified_name}\0{self.name}\0{self.bucket}"
        return hashlib.sha1(seed.encode()).hexdigest()

    def matches_event(self, event_name: str) -> bool:
        """``event_name`` as OSS emits it (``ObjectCreated:PutObject``) against the configured ``oss:…`` names."""
        for configured in self.events:
            pattern = configured.removeprefix("oss:")
            if pattern == event_name or (pattern.endswith(":*") and event_name.startswith(pattern[:-1])):
                return True
        return False

    def matches(self, bucket: str, event_name: str, key: str) -> bool:
        return (
            bucket == self.bucket
            and self.matches_event(event_name)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )

    def with_bucket(self, bucket: str) -> Trigger:
        return dataclasses.replace(self, bucket=bucket)


def loop_risk(trigger: Trigger, result_suffix: str) -> str | None:
    """Why the function's own ``<key><result_suffix>`` write would fire ``trigger`` again, or None (research §2.7)."""
    if not trigger.matches_event("ObjectCreated:PutObject"):
        return None
    photo = f"{trigger.prefix}photo{trigger.suffix or '.jpg'}"
    result = photo + result_suffix
    if not trigger.matches(trigger.bucket, "ObjectCreated:PutObject", result):
        return None
    why = "its suffix is empty" if not trigger.suffix else f"{result_suffix!r} ends with its suffix {trigger.suffix!r}"
    return (
        f"trigger {trigger.name!r} of function {trigger.function.qualified_name!r} fires on the function's own results "
        f"(e.g. {result!r}) because {why}: every result costs a second invocation, which the function then skips. "
        "Give the trigger an image suffix such as '.jpg' (one trigger per suffix), or write results under another prefix."
    )


# --- reading the files -------------------------------------------------------------------------------------------


class _AnyTagLoader(yaml.SafeLoader):  # type: ignore[misc]
    """ROS templates may use tags such as ``!Ref``; they are read as plain values."""


def _construct_any(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_AnyTagLoader.add_multi_constructor("!", _construct_any)


def _get(mapping: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` present in ``mapping``: fun and devsapp accept Title-case and lower-case spellings."""
    if not isinstance(mapping, Mapping):
        return default
    for name in names:
        if name in mapping:
            return mapping[name]
    return default


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


_VAR = re.compile(r"\$\{\s*([^}]+?)\s*\}")


def _resolver(variables: Mapping[str, Any], account_id: str) -> Any:
    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("vars."):
            value = variables.get(expr[5:])
            return match.group(0) if value is None else str(value)
        call = re.fullmatch(r"(config|env)\(\s*['\"]?([\w.-]+)['\"]?\s*\)", expr)
        if call and call.group(1) == "config" and call.group(2).lower() in {"accountid", "account_id"}:
            return account_id
        if call and call.group(1) == "env":
            return os.environ.get(call.group(2), match.group(0))
        return match.group(0)

    def resolve(node: Any) -> Any:
        if isinstance(node, str):
            return _VAR.sub(one, node)
        if isinstance(node, Mapping):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve


def _parse_arn(arn: str) -> tuple[str, str, str]:
    """``acs:oss:<region>:<uid>:<bucket>`` → (region, uid, bucket)."""
    parts = str(arn).split(":")
    if len(parts) >= 5 and parts[0] == "acs" and parts[1] == "oss":
        return parts[2], parts[3], ":".join(parts[4:])
    return "", "", ""


def load_template(path: Path, *, account_id: str = DEFAULT_ACCOUNT_ID) -> list[Trigger]:
    """Every OSS trigger of a fun ``template.yml``."""
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_AnyTagLoader) or {}
    triggers: list[Trigger] = []
    resources = _get(doc, "Resources", "resources", default={}) or {}
    for service_name, service in resources.items():
        if "service" not in str(_get(service, "Type", "type", default="")).lower():
            continue
        for function_name, function in service.items():
            if not isinstance(function, Mapping) or "function" not in str(_get(function, "Type", default="")).lower():
                continue
            props = _get(function, "Properties", "properties", default={}) or {}
            async_config = _get(props, "AsyncConfiguration", "asyncConfiguration", default={}) or {}
            spec = FunctionSpec(
                name=str(function_name),
                service=str(service_name),
                handler=str(_get(props, "Handler", "handler", default="index.handler")),
                initializer=str(_get(props, "Initializer", "initializer", default="") or ""),
                runtime=str(_get(props, "Runtime", "runtime", default="")),
                memory=_int(_get(props, "MemorySize", "memorySize"), 128),
                timeout=_int(_get(props, "Timeout", "timeout"), 3),
                code_dir=(path.parent / str(_get(props, "CodeUri", "codeUri", default="."))).resolve(),
                environment=_env(_get(props, "EnvironmentVariables", "environmentVariables")),
                max_async_retry_attempts=_int(
                    _get(async_config, "MaxAsyncRetryAttempts", "maxAsyncRetryAttempts"), DEFAULT_ASYNC_RETRIES
                ),
                source=path,
            )
            for event_name, event in (_get(function, "Events", "events", default={}) or {}).items():
                if str(_get(event, "Type", "type", default="")).lower() != "oss":
                    continue
                ep = _get(event, "Properties", "properties", default={}) or {}
                key = _get(_get(ep, "Filter", "filter", default={}), "Key", "key", default={}) or {}
                triggers.append(
                    Trigger(
                        name=str(event_name),
                        function=spec,
                        bucket=str(_get(ep, "BucketName", "bucketName", default="")),
                        events=tuple(str(e) for e in _as_list(_get(ep, "Events", "events"))),
                        prefix=str(_get(key, "Prefix", "prefix", default="") or ""),
                        suffix=str(_get(key, "Suffix", "suffix", default="") or ""),
                        account_id=account_id,
                        qualifier=str(_get(ep, "Qualifier", "qualifier", default="LATEST") or "LATEST"),
                        source=path,
                    )
                )
    return triggers


def load_s_yaml(path: Path, *, account_id: str = DEFAULT_ACCOUNT_ID) -> list[Trigger]:
    """Every OSS trigger of a Serverless Devs ``s.yaml`` (fc3, or devsapp/fc for FC 2.0)."""
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_AnyTagLoader) or {}
    doc = _resolver(_get(raw, "vars", default={}) or {}, account_id)(raw)
    triggers: list[Trigger] = []
    for resource_name, resource in (_get(doc, "resources", "services", default={}) or {}).items():
        props = _get(resource, "props", default={}) or {}
        fn = _get(props, "function", default=None)  # devsapp/fc (FC 2.0) nests the function; fc3 does not
        fprops = fn if isinstance(fn, Mapping) else props
        service = _get(props, "service", default={})
        async_config = _get(fprops, "asyncInvokeConfig", "asyncConfiguration", default={}) or {}
        code = _get(fprops, "code", "codeUri", default=".")
        if isinstance(code, Mapping):
            code = _get(code, "src", default=".")
        spec = FunctionSpec(
            name=str(_get(fprops, "functionName", "name", default=resource_name)),
            service=str(_get(service, "name", default="") or ""),
            handler=str(_get(fprops, "handler", default="index.handler")),
            initializer=str(
                _get(_get(_get(fprops, "instanceLifecycleConfig"), "initializer"), "handler", default="")
                or _get(fprops, "initializer", default="")
                or ""
            ),
            runtime=str(_get(fprops, "runtime", default="")),
            memory=_int(_get(fprops, "memorySize"), 512),
            timeout=_int(_get(fprops, "timeout"), 3),
            code_dir=(path.parent / str(code)).resolve(),
            environment=_env(_get(fprops, "environmentVariables")),
            max_async_retry_attempts=_int(_get(async_config, "maxAsyncRetryAttempts"), DEFAULT_ASYNC_RETRIES),
            region=str(_get(props, "region", default="") or ""),
            source=path,
        )
        for item in _as_list(_get(props, "triggers")):
            if str(_get(item, "triggerType", "type", default="")).lower() != "oss":
                continue
            config = _get(item, "triggerConfig", "config", default={}) or {}
            key = _get(_get(config, "filter", "Filter", default={}), "key", "Key", default={}) or {}
            region, uid, bucket = _parse_arn(str(_get(item, "sourceArn", default="")))
            triggers.append(
                Trigger(
                    name=str(_get(item, "triggerName", "name", default="oss")),
                    function=spec,
                    bucket=bucket or str(_get(config, "bucketName", default="")),
                    events=tuple(str(e) for e in _as_list(_get(config, "events"))),
                    prefix=str(_get(key, "prefix", "Prefix", default="") or ""),
                    suffix=str(_get(key, "suffix", "Suffix", default="") or ""),
                    region=region or spec.region,
                    account_id=uid if uid and "$" not in uid else account_id,
                    qualifier=str(_get(item, "qualifier", default="LATEST") or "LATEST"),
                    source=path,
                )
            )
    return triggers


def load_triggers(paths: Iterable[Path], *, account_id: str = DEFAULT_ACCOUNT_ID) -> list[Trigger]:
    """Triggers of every file, ``template.yml``-style or ``s.yaml``-style by name."""
    triggers: list[Trigger] = []
    for path in paths:
        loader = load_s_yaml if path.name.startswith("s.") else load_template
        triggers.extend(loader(path, account_id=account_id))
    return triggers


def discover(project_dir: Path) -> list[Path]:
    """The deployment descriptors present in ``project_dir``."""
    return [project_dir / name for name in TRIGGER_FILES if (project_dir / name).is_file()]


def for_local_bucket(triggers: Sequence[Trigger], bucket: str) -> list[Trigger]:
    """All triggers pointed at the local bucket, with duplicates merged.

    template.yml and s.yaml usually describe the same deployment; once both point at one local bucket, a trigger they
    share (same function, events, prefix, suffix) must fire once, not twice.
    """
    merged: dict[tuple[str, frozenset[str], str, str], Trigger] = {}
    for trigger in triggers:
        local = trigger.with_bucket(bucket)
        identity = (local.function.name, frozenset(local.events), local.prefix, local.suffix)
        if identity in merged:
            log.info("trigger %s from %s duplicates one already read; fired once", trigger.name, trigger.source)
            continue
        merged[identity] = local
    return list(merged.values())


CREATED_EVENTS = (
    "oss:ObjectCreated:PutObject",
    "oss:ObjectCreated:PostObject",
    "oss:ObjectCreated:CompleteMultipartUpload",
)


def default_triggers(bucket: str, suffixes: Iterable[str], function: FunctionSpec | None = None) -> list[Trigger]:
    """Without template.yml / s.yaml: one trigger per image suffix, the way the project's own descriptors declare them."""
    spec = function or FunctionSpec(name="ossfaces", service="ossfaces", initializer="index.initializer")
    return [
        Trigger(
            name=f"oss{suffix.replace('.', '-')}", function=spec, bucket=bucket, events=CREATED_EVENTS, suffix=suffix
        )
        for suffix in suffixes
    ]
