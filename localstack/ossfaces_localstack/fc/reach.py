"""Which keys reach the function: the triggers against the function's own accept rule, for every image suffix in every
case users produce; and whether the function's own writes fire a trigger again (a loop)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ossfaces_localstack.fc.triggers import FunctionSpec, Trigger, case_variants


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
