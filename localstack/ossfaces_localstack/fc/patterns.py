"""EventBridge event patterns, the subset the local FC emulates for EventBridge-based OSS triggers.

EventBridge "Event patterns": nested structure, AND across fields, OR within a field's list; exact values, ``prefix``,
``suffix``, ``contains``, ``anything-but``, ``exists``; matching is case-sensitive, with no normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPERATORS = {"prefix", "suffix", "contains", "anything-but", "exists"}


def dig(node: Any, *path: str) -> Any:
    """The value at ``path`` in nested mappings, or None."""
    for name in path:
        if not isinstance(node, Mapping) or name not in node:
            return None
        node = node[name]
    return node


def describe_condition(condition: Any) -> str:
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
                if isinstance(condition, Mapping) and not set(condition) <= OPERATORS:
                    raise ValueError(f"{where}.{name}: operator {sorted(set(condition) - OPERATORS)} is not emulated")
        else:
            raise ValueError(f'{where}.{name}: a field\'s values are a list, e.g. ["acs.oss"]')


def _operator_holds(op: str, arg: Any, value: Any) -> bool:
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "contains":
        return isinstance(value, str) and arg in value
    if op == "anything-but":
        if isinstance(arg, Mapping) and "prefix" in arg:
            return not (isinstance(value, str) and value.startswith(arg["prefix"]))
        return value not in (arg if isinstance(arg, list) else [arg])
    return True


def _condition_holds(condition: Any, value: Any, present: bool) -> bool:
    if not isinstance(condition, Mapping):
        return present and value == condition
    for op, arg in condition.items():
        if op == "exists":
            if bool(arg) != present:
                return False
        elif not present or not _operator_holds(op, arg, value):
            return False
    return True


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


def cloud_event_shape(region: str, account_id: str, bucket: str, event_name: str, key: str) -> dict[str, Any]:
    """The fields of the CloudEvent an upload sends to EventBridge that a key pattern can look at."""
    return {
        "source": "acs.oss",
        "type": f"oss:{event_name}",
        "subject": f"acs:oss:{region}:{account_id}:{bucket}/{key}",
        "aliyunregionid": region,
        "data": {
            "eventName": event_name,
            "eventSource": "acs:oss",
            "region": region,
            "oss": {"bucket": {"name": bucket}, "object": {"key": key}},
        },
    }
