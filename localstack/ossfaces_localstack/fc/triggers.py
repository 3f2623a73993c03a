"""OSS triggers and the functions they fire, read from fun's ``template.yml`` and Serverless Devs' ``s.yaml``.

One place decides what a trigger is and whether an upload matches it, so the local stack fires exactly when FC would.
Two kinds:
- native OSS trigger: the OSS event name is one of the trigger's events (``oss:ObjectCreated:*`` covers every created
  event) and the key has the trigger's prefix and suffix, case-sensitively (research: FC "OSS triggers"; fun
  ``oss-event.js``; fc3 ``IOssTriggerConfig``); at most 10 per bucket.
- EventBridge-based OSS trigger (fc3 ``triggerType: eventbridge`` on the ``Default`` event source with a pattern whose
  ``source`` is ``acs.oss``): the upload's CloudEvent matches the trigger's event pattern (EventBridge "Event
  patterns": nested structure, AND across fields, OR within a field's list; exact values, ``prefix``, ``suffix``,
  ``contains``, ``anything-but``, ``exists``; matching is case-sensitive). The function gets the CloudEvent.

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

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("ossfaces_localstack.fc")

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
    kind: str = "oss"  # "oss" (native) | "eventbridge"
    pattern: Mapping[str, Any] | None = None  # the EventBridge event pattern (kind "eventbridge")

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
        if self.kind == "eventbridge":
            return pattern_matches(self.pattern or {}, cloud_event_shape(self, bucket, event_name, key))
        return (
            bucket == self.bucket
            and self.matches_event(event_name)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )

    def with_bucket(self, bucket: str) -> Trigger:
        pattern = self.pattern
        if pattern is not None and isinstance(_dig(pattern, "data", "oss", "bucket"), Mapping):
            pattern = json.loads(json.dumps(pattern))
            pattern["data"]["oss"]["bucket"]["name"] = [bucket]
        return dataclasses.replace(self, bucket=bucket, pattern=pattern)

    def summary(self) -> str:
        """One line for ``ossfaces up``: what this trigger listens to."""
        if self.kind == "eventbridge":
            keys = _dig(self.pattern or {}, "data", "oss", "object", "key")
            if isinstance(keys, list) and keys and all(isinstance(c, Mapping) and set(c) == {"suffix"} for c in keys):
                shown = f"ends in one of {' '.join(c['suffix'] for c in keys)} ({len(keys)})"
            elif isinstance(keys, list):
                shown = "matches " + ", ".join(_describe_condition(c) for c in keys)
            else:
                shown = "any"
            return f"{self.name} (EventBridge): {', '.join(e.removeprefix('oss:') for e in self.events)}; key {shown}"
        return f"{self.name} (OSS): {', '.join(self.events)}; prefix={self.prefix!r} suffix={self.suffix!r}"


# --- EventBridge event patterns (the subset the local FC emulates) ------------------------------------------------

_OPERATORS = {"prefix", "suffix", "contains", "anything-but", "exists"}


def _dig(node: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(node, Mapping) or name not in node:
            return None
        node = node[name]
    return node


def _describe_condition(condition: Any) -> str:
    if isinstance(condition, Mapping):
        return " ".join(f"{op} {value!r}" for op, value in condition.items())
    return repr(condition)


def check_pattern(pattern: Any, where: str = "pattern") -> None:
    """Refuse what the local FC would not match as EventBridge does (unknown operators, wrong shapes)."""
    if not isinstance(pattern, Mapping):
        raise ValueError(f"{where}: an event pattern is a JSON object")
    for name, rule in pattern.items():
        if isinstance(rule, Mapping):
            check_pattern(rule, f"{where}.{name}")
        elif isinstance(rule, list):
            for condition in rule:
                if isinstance(condition, Mapping) and not set(condition) <= _OPERATORS:
                    raise ValueError(f"{where}.{name}: operator {sorted(set(condition) - _OPERATORS)} is not emulated")
        else:
            raise ValueError(f'{where}.{name}: a field\'s values are a list, e.g. ["acs.oss"]')


def _condition_holds(condition: Any, value: Any, present: bool) -> bool:
    if isinstance(condition, Mapping):
        for op, arg in condition.items():
            if op == "exists":
                if bool(arg) != present:
                    return False
                continue
            if not present:
                return False
            if op == "prefix" and not (isinstance(value, str) and value.startswith(arg)):
                return False
            if op == "suffix" and not (isinstance(value, str) and value.endswith(arg)):
                return False
            if op == "contains" and not (isinstance(value, str) and arg in value):
                return False
            if op == "anything-but":
                if isinstance(arg, Mapping) and "prefix" in arg:
                    if isinstance(value, str) and value.startswith(arg["prefix"]):
                        return False
                elif value in (arg if isinstance(arg, list) else [arg]):
                    return False
        return True
    return present and value == condition


def pattern_matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge's rule: every field of the pattern holds (AND); a field holds if any of its conditions does (OR);
    a list in the event holds if any element does. Case-sensitive, no normalisation."""
    for name, rule in pattern.items():
        present = isinstance(event, Mapping) and name in event
        value = event.get(name) if present else None
        if isinstance(rule, Mapping):
            if not (present and isinstance(value, Mapping) and pattern_matches(rule, value)):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_condition_holds(c, v, present) for c in rule for v in values):
            return False
    return True


def cloud_event_shape(trigger: Trigger, bucket: str, event_name: str, key: str) -> dict[str, Any]:
    """The fields of the CloudEvent an upload sends to EventBridge that a key pattern can look at."""
    region = trigger.region or "cn-hangzhou"
    return {
        "source": "acs.oss",
        "type": f"oss:{event_name}",
        "subject": f"acs:oss:{region}:{trigger.account_id}:{bucket}/{key}",
        "aliyunregionid": region,
        "data": {
            "eventName": event_name,
            "eventSource": "acs:oss",
            "region": region,
            "oss": {"bucket": {"name": bucket}, "object": {"key": key}},
        },
    }


# --- which keys reach the function --------------------------------------------------------------------------------


def case_variants(suffix: str) -> tuple[str, ...]:
    """``.jpg`` → ``.jpg .JPG .Jpg``: the cases users produce (most tools; cameras and phones; some editors)."""
    lower = suffix.lower()
    title = lower[:1] + lower[1:2].upper() + lower[2:] if lower.startswith(".") else lower.title()
    return tuple(dict.fromkeys((lower, lower.upper(), title)))


def key_table(settings: Any, stem: str = "photos/IMG_0001") -> list[str]:
    """Keys to check the triggers against: every image suffix in every user case, non-images, the function's writes."""
    keys = [stem + variant for suffix in settings.image_suffixes for variant in case_variants(suffix)]
    keys += [f"{stem}{s}" for s in (".txt", ".pdf", ".svg", ".log", ".mov", ".mp4", ".zip", ".json", "")]
    result = f"{stem}.jpg{settings.result_suffix}"
    keys += [result, result + ".claim", f"{stem}.HEIC{settings.result_suffix}"]
    return keys


def reaching(triggers: Sequence[Trigger], keys: Iterable[str], event_name: str = "ObjectCreated:PutObject") -> set[str]:
    """The keys whose upload fires at least one of ``triggers`` (each trigger on its own bucket)."""
    return {k for k in keys if any(t.matches(t.bucket, event_name, k) for t in triggers)}


def settings_of(function: FunctionSpec) -> Any:
    """The function's settings as deployed: its declared environment over the defaults."""
    from ossfaces.settings import Settings

    return Settings.from_environ(dict(function.environment))


def function_accepts(key: str, settings: Any, event_name: str = "ObjectCreated:PutObject") -> bool:
    """The function's own rule (``pipeline.skip_reason``) for an upload of ``key``: is it analysed?"""
    from ossfaces.events import parse_event
    from ossfaces.pipeline import skip_reason

    record = {"eventName": event_name, "eventSource": "acs:oss", "eventTime": "2026-01-01T00:00:00.000Z",
              "region": "cn-hangzhou", "oss": {"bucket": {"name": "b"}, "object": {"key": key, "size": 1, "eTag": "E"}}}  # fmt: skip
    (parsed,) = parse_event(json.dumps({"events": [record]}))
    return skip_reason(parsed, settings) is None


def reach_report(triggers: Sequence[Trigger], settings: Any) -> list[str]:
    """What ``ossfaces up`` prints: per image suffix and case, whether an upload reaches the function; and the rest."""
    lines = ["keys that reach the function (upload of <key>; y = fires, - = does not):"]
    for suffix in settings.image_suffixes:
        cells = [f"{v:<6}{'y' if reaching(triggers, ['k' + v]) else '-'}" for v in case_variants(suffix)]
        lines.append("  " + "   ".join(cells))
    others = [k for k in key_table(settings, "k") if not function_accepts(k, settings)]
    fired = sorted(k[1:] for k in reaching(triggers, others))
    written = [f"k.jpg{settings.result_suffix}", f"k.jpg{settings.result_suffix}.claim"]
    loops = reaching(triggers, written)
    lines.append(
        f"  the function's writes ({', '.join(w[1:] for w in written)}): {'FIRE (a loop)' if loops else 'never'}"
    )
    lines.append("  other keys that fire (the function skips them): " + (", ".join(fired) if fired else "none"))
    return lines


def loop_risk(trigger: Trigger, result_suffix: str) -> str | None:
    """Why the function's own ``<key><result_suffix>`` write would fire ``trigger`` again, or None (research §2.7)."""
    if trigger.kind == "eventbridge":
        result = "photos/photo.jpg" + result_suffix
        if not trigger.matches(trigger.bucket, "ObjectCreated:PutObject", result):
            return None
        return (
            f"trigger {trigger.name!r} of function {trigger.function.qualified_name!r} fires on the function's own "
            f"results (e.g. {result!r}): its event pattern matches them. Match image suffixes only."
        )
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
            kind = str(_get(item, "triggerType", "type", default="")).lower()
            if kind == "eventbridge":
                trigger = _eventbridge_trigger(item, spec, account_id, path)
                if trigger is not None:
                    triggers.append(trigger)
                continue
            if kind != "oss":
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
    if source_type != "Default" or "acs.oss" not in _as_list(_get(pattern, "source")):
        return None  # not OSS's events (Kafka, MNS …): nothing the local OSS emits
    check_pattern(pattern, f"{path}: trigger {name}")
    names = _dig(pattern, "data", "oss", "bucket", "name")
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


def for_local_bucket(triggers: Sequence[Trigger], bucket: str) -> list[Trigger]:
    """All triggers pointed at the local bucket, with duplicates merged.

    template.yml and s.yaml usually describe the same deployment; once both point at one local bucket, a trigger they
    share (same function, events, prefix, suffix) must fire once, not twice.
    """
    merged: dict[tuple[str, frozenset[str], str, str, str], Trigger] = {}
    for trigger in triggers:
        local = trigger.with_bucket(bucket)
        shape = json.dumps(local.pattern, sort_keys=True) if local.pattern is not None else ""
        identity = (local.function.name, frozenset(local.events), local.prefix, local.suffix, shape)
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


def image_pattern(bucket: str, suffixes: Iterable[str], events: Iterable[str] = CREATED_EVENTS) -> dict[str, Any]:
    """The EventBridge event pattern of the project's trigger: created objects of ``bucket`` whose key ends in one of
    ``suffixes`` in lower, UPPER or Title case (s.yaml spells out the same, checked by a test)."""
    keys = [{"suffix": v} for suffix in suffixes for v in case_variants(suffix)]
    return {
        "source": ["acs.oss"],
        "type": list(events),
        "data": {"oss": {"bucket": {"name": [bucket]}, "object": {"key": keys}}},
    }


def default_triggers(bucket: str, suffixes: Iterable[str], function: FunctionSpec | None = None) -> list[Trigger]:
    """Without template.yml / s.yaml: the project's own trigger, one EventBridge-based OSS trigger on the image suffixes."""
    spec = function or FunctionSpec(name="ossfaces", service="ossfaces", initializer="index.initializer")
    pattern = image_pattern(bucket, suffixes)
    return [Trigger("oss-images", spec, bucket, tuple(pattern["type"]), kind="eventbridge", pattern=pattern)]
