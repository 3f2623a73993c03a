"""Triggers and functions read from fun's ``template.yml`` and Serverless Devs' ``s.yaml``.

Shapes read:
- fun (``Transform: Aliyun::Serverless-2018-04-03``): ``Resources.<service>.<function>.Events.<name>`` with ``Type: OSS``
  and ``Properties.{BucketName, Events, Filter.Key.{Prefix, Suffix}}`` (lower-case spellings accepted too).
- fc3 (``edition: 3.0.0``): ``resources.<r>.props.triggers[]`` with ``triggerType: oss``,
  ``sourceArn: acs:oss:<region>:<uid>:<bucket>`` and ``triggerConfig.{events, filter.key.{prefix, suffix}}``, or
  ``triggerType: eventbridge`` with ``triggerConfig.{eventSourceConfig.eventSourceType: Default,
  eventRuleFilterPattern: '<JSON>'}``;
  devsapp/fc (FC 2.0) ``props.{service, function, triggers[].{type, config}}`` likewise.
``${vars.x}``, ``${config('AccountID')}`` and ``${env('X')}`` are resolved; anything else is left as written.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ossfaces_localstack.fc.patterns import check_pattern, dig, pattern_matches
from ossfaces_localstack.fc.triggers import DEFAULT_ACCOUNT_ID, DEFAULT_ASYNC_RETRIES, FunctionSpec, Trigger

TRIGGER_FILES = ("template.yml", "template.yaml", "s.yaml", "s.yml")
OSS = {"source": "acs.oss"}  # what OSS's CloudEvents carry in ``source``

log = logging.getLogger("ossfaces_localstack.fc")


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
    for service_name, service in (_get(doc, "Resources", "resources", default={}) or {}).items():
        if "service" not in str(_get(service, "Type", "type", default="")).lower():
            continue
        for function_name, function in service.items():
            if not isinstance(function, Mapping) or "function" not in str(_get(function, "Type", default="")).lower():
                continue
            spec = _template_function(str(service_name), str(function_name), function, path)
            for event_name, event in (_get(function, "Events", "events", default={}) or {}).items():
                if str(_get(event, "Type", "type", default="")).lower() == "oss":
                    triggers.append(_template_trigger(str(event_name), event, spec, account_id, path))
    return triggers


def _template_function(service_name: str, function_name: str, function: Mapping[str, Any], path: Path) -> FunctionSpec:
    props = _get(function, "Properties", "properties", default={}) or {}
    async_config = _get(props, "AsyncConfiguration", "asyncConfiguration", default={}) or {}
    return FunctionSpec(
        name=function_name,
        service=service_name,
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


def _template_trigger(name: str, event: Any, spec: FunctionSpec, account_id: str, path: Path) -> Trigger:
    ep = _get(event, "Properties", "properties", default={}) or {}
    key = _get(_get(ep, "Filter", "filter", default={}), "Key", "key", default={}) or {}
    return Trigger(
        name=name,
        function=spec,
        bucket=str(_get(ep, "BucketName", "bucketName", default="")),
        events=tuple(str(e) for e in _as_list(_get(ep, "Events", "events"))),
        prefix=str(_get(key, "Prefix", "prefix", default="") or ""),
        suffix=str(_get(key, "Suffix", "suffix", default="") or ""),
        account_id=account_id,
        qualifier=str(_get(ep, "Qualifier", "qualifier", default="LATEST") or "LATEST"),
        source=path,
    )


def load_s_yaml(path: Path, *, account_id: str = DEFAULT_ACCOUNT_ID) -> list[Trigger]:
    """Every OSS trigger of a Serverless Devs ``s.yaml`` (fc3, or devsapp/fc for FC 2.0)."""
    doc = _read_s_yaml(path, account_id)
    triggers: list[Trigger] = []
    for resource_name, resource in (_get(doc, "resources", "services", default={}) or {}).items():
        props = _get(resource, "props", default={}) or {}
        spec = _s_yaml_function(str(resource_name), props, path)
        for item in _as_list(_get(props, "triggers")):
            trigger = _s_yaml_trigger(item, spec, account_id, path)
            if trigger is not None:
                triggers.append(trigger)
    return triggers


def _read_s_yaml(path: Path, account_id: str) -> Any:
    """The file's YAML with its ``${…}`` variables resolved."""
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_AnyTagLoader) or {}
    return _resolver(_get(raw, "vars", default={}) or {}, account_id)(raw)


def _s_yaml_function(resource_name: str, props: Any, path: Path) -> FunctionSpec:
    """The function of one resource: fc3 keeps its fields in ``props``, devsapp/fc (FC 2.0) in ``props.function``."""
    fn = _get(props, "function", default=None)
    fprops = fn if isinstance(fn, Mapping) else props
    async_config = _get(fprops, "asyncInvokeConfig", "asyncConfiguration", default={}) or {}
    code = _get(fprops, "code", "codeUri", default=".")
    if isinstance(code, Mapping):
        code = _get(code, "src", default=".")
    lifecycle_initializer = _get(_get(_get(fprops, "instanceLifecycleConfig"), "initializer"), "handler", default="")
    return FunctionSpec(
        name=str(_get(fprops, "functionName", "name", default=resource_name)),
        service=str(_get(_get(props, "service", default={}), "name", default="") or ""),
        handler=str(_get(fprops, "handler", default="index.handler")),
        initializer=str(lifecycle_initializer or _get(fprops, "initializer", default="") or ""),
        runtime=str(_get(fprops, "runtime", default="")),
        memory=_int(_get(fprops, "memorySize"), 512),
        timeout=_int(_get(fprops, "timeout"), 3),
        code_dir=(path.parent / str(code)).resolve(),
        environment=_env(_get(fprops, "environmentVariables")),
        max_async_retry_attempts=_int(_get(async_config, "maxAsyncRetryAttempts"), DEFAULT_ASYNC_RETRIES),
        region=str(_get(props, "region", default="") or ""),
        source=path,
    )


def _s_yaml_trigger(item: Any, spec: FunctionSpec, account_id: str, path: Path) -> Trigger | None:
    """One entry of ``triggers``: a native OSS trigger, an EventBridge-based one, or None (not on OSS's events)."""
    kind = str(_get(item, "triggerType", "type", default="")).lower()
    if kind == "eventbridge":
        return _eventbridge_trigger(item, spec, account_id, path)
    if kind == "oss":
        return _oss_trigger(item, spec, account_id, path)
    return None


def _oss_trigger(item: Mapping[str, Any], spec: FunctionSpec, account_id: str, path: Path) -> Trigger:
    """A native OSS trigger of s.yaml: the bucket (and owner) from ``sourceArn``, events and key filter from its config."""
    config = _get(item, "triggerConfig", "config", default={}) or {}
    key = _get(_get(config, "filter", "Filter", default={}), "key", "Key", default={}) or {}
    region, uid, bucket = _parse_arn(str(_get(item, "sourceArn", default="")))
    return Trigger(
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


def _eventbridge_trigger(item: Mapping[str, Any], spec: FunctionSpec, account_id: str, path: Path) -> Trigger | None:
    """An fc3 ``eventbridge`` trigger on OSS's events (Default bus, pattern source ``acs.oss``), or None."""
    config = _get(item, "triggerConfig", default={}) or {}
    source_type = str(_get(_get(config, "eventSourceConfig"), "eventSourceType", default="Default"))
    raw = _get(config, "eventRuleFilterPattern", default="{}")
    name = str(_get(item, "triggerName", default="eventbridge"))
    try:
        pattern = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError as exc:
        raise ValueError(f"{path}: trigger {name}: eventRuleFilterPattern is not JSON: {exc}") from exc
    if source_type != "Default" or ("source" in pattern and not pattern_matches({"source": pattern["source"]}, OSS)):
        # not OSS's events (Kafka, MNS …): nothing the local OSS emits. Without ``source`` the pattern holds for OSS's
        # events too (EventBridge checks only the fields a pattern names), so it is read like any other.
        log.warning(
            "%s: trigger %r listens to %s, not OSS's events: the local OSS never fires it",
            path, name, f"event source {source_type}" if source_type != "Default" else f"source {pattern['source']}",
        )  # fmt: skip
        return None
    check_pattern(pattern, f"{path}: trigger {name}")
    names = dig(pattern, "data", "oss", "bucket", "name")
    bucket = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    return Trigger(
        name=name, function=spec, bucket=bucket, region=spec.region, account_id=account_id, source=path,
        events=tuple(str(t) for t in _as_list(_get(pattern, "type")) if isinstance(t, str)) or ("oss:ObjectCreated:*",),
        qualifier=str(_get(item, "qualifier", default="LATEST") or "LATEST"), kind="eventbridge", pattern=pattern,
    )  # fmt: skip


def load_triggers(paths: Iterable[Path], *, account_id: str = DEFAULT_ACCOUNT_ID) -> list[Trigger]:
    """Triggers of every file, ``template.yml``-style or ``s.yaml``-style by name."""
    triggers: list[Trigger] = []
    for path in paths:
        loader = load_s_yaml if path.name.startswith("s.") else load_template
        triggers.extend(loader(path, account_id=account_id))
    return triggers


def discover(project_dir: Path) -> list[Path]:
    """The deployment descriptor the project deploys with: ``s.yaml`` (Serverless Devs, the maintained path) when
    present, else fun's ``template.yml``. One, not both: they may declare the same images with different trigger forms
    (fun has no EventBridge trigger), and reading both would deliver each photo twice."""
    present = [project_dir / name for name in TRIGGER_FILES if (project_dir / name).is_file()]
    preferred = [p for p in present if p.name.startswith("s.")]
    return preferred[:1] or present[:1]
