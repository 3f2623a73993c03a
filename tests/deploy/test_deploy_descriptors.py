"""template.yml (fun) and s.yaml (Serverless Devs fc3) describe the same function, so they can never drift apart.

Compared: environment variables (every operator setting of ``ossfaces.settings.env_names()``, credentials excepted,
with values that mean the defaults), handler and initializer, timeout and memory, async retries, the trigger events
and bucket, and the least-privilege policy. The trigger forms differ on purpose (fun has no EventBridge trigger): which
keys each one delivers is tested in tests/localfc/test_fc_reach.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from ossfaces.idempotency import CLAIM_SUFFIX
from ossfaces.runtime_api import DEFAULT_PORT
from ossfaces.settings import Settings, env_names

from .deploy_support import REPO

CREDENTIALS = {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"}
# Runtime plumbing, not ossfaces settings: the custom runtime finds the Python310 layer through PATH; the built-in
# python3.10 runtime finds the bundled dependencies through PYTHONPATH (bootstrap adds python/ itself).
PLUMBING_FUN = {"PATH"}
PLUMBING_S = {"PYTHONPATH": "/code/python"}
# Values that differ from the code default on purpose, with the reason.
FC_VALUES = {
    "OSSFACES_MODELS_DIR": "/code/models"
}  # the default "models/ beside the code" spelled out: FC's code is /code
CREATED = {
    "oss:ObjectCreated:PutObject",
    "oss:ObjectCreated:PostObject",
    "oss:ObjectCreated:CopyObject",
    "oss:ObjectCreated:CompleteMultipartUpload",
}
LAST_LETTERS = {"g", "G", "p", "P", "f", "F", "c", "C"}  # template.yml: the last letters of the image suffixes
POLICY_ACTIONS = {"oss:GetObject", "oss:PutObject", "oss:ProcessImm"}


def _load(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fun_function() -> dict[str, Any]:
    service = _load("template.yml")["Resources"]["ossfaces"]
    return service["ossfaces"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def fun_service() -> dict[str, Any]:
    return _load("template.yml")["Resources"]["ossfaces"]["Properties"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def s_props() -> dict[str, Any]:
    return _load("s.yaml")["resources"]["ossfaces"]["props"]  # type: ignore[no-any-return]


def _ossfaces_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("OSSFACES_") or k in CREDENTIALS}


def test_both_files_say_which_tool_reads_them() -> None:
    assert "Read by fun" in (REPO / "template.yml").read_text(encoding="utf-8").split("\nROSTemplateFormatVersion")[0]
    assert "Read by Serverless Devs" in (REPO / "s.yaml").read_text(encoding="utf-8").split("\nedition:")[0]


def test_environment_is_every_setting_with_the_same_values(
    fun_function: dict[str, Any], s_props: dict[str, Any]
) -> None:
    expected = set(env_names()) - CREDENTIALS
    fun_env = fun_function["Properties"]["EnvironmentVariables"]
    s_env = s_props["environmentVariables"]
    assert set(_ossfaces_env(fun_env)) == expected
    assert set(_ossfaces_env(s_env)) == expected
    assert set(fun_env) - expected == PLUMBING_FUN
    assert {k: v for k, v in s_env.items() if k not in expected} == PLUMBING_S
    assert _ossfaces_env(fun_env) == _ossfaces_env(s_env)
    assert all(isinstance(v, str) for v in [*fun_env.values(), *s_env.values()]), "FC wants string values"


def test_environment_values_are_the_defaults(fun_function: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    default = Settings().model_dump()
    env = _ossfaces_env(fun_function["Properties"]["EnvironmentVariables"])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    deployed = Settings().model_dump()
    for name, value in FC_VALUES.items():
        assert env[name] == value
        field = name.removeprefix("OSSFACES_").lower()
        deployed.pop(field), default.pop(field)
    assert deployed == default


def test_same_handler_initializer_and_sizes(fun_function: dict[str, Any], s_props: dict[str, Any]) -> None:
    props = fun_function["Properties"]
    assert props["Handler"] == s_props["handler"] == "index.handler"
    assert props["Initializer"] == s_props["instanceLifecycleConfig"]["initializer"]["handler"] == "index.initializer"
    assert props["InitializationTimeout"] == s_props["instanceLifecycleConfig"]["initializer"]["timeout"]
    assert props["Timeout"] == s_props["timeout"]
    assert props["MemorySize"] == s_props["memorySize"]
    assert props["MemorySize"] >= 1024 and props["Timeout"] >= 60, "the local engine needs room (docs/deploy.md)"
    assert props["AsyncConfiguration"]["MaxAsyncRetryAttempts"] == s_props["asyncInvokeConfig"]["maxAsyncRetryAttempts"]
    assert props["CodeUri"] == s_props["code"] == "./function"


def test_runtimes(fun_function: dict[str, Any], s_props: dict[str, Any]) -> None:
    props = fun_function["Properties"]
    assert props["Runtime"] == "custom" and props["CAPort"] == DEFAULT_PORT
    assert any(
        re.fullmatch(r"acs:fc:[a-z0-9-]+:official:layers/Python310/versions/\d+", arn) for arn in props["Layers"]
    )
    assert props["EnvironmentVariables"]["PATH"].startswith("/opt/python3.10/bin:")
    assert s_props["runtime"] == "python3.10"


def _fun_triggers(fun_function: dict[str, Any]) -> list[tuple[frozenset[str], str, str, str]]:
    out = []
    for event in fun_function["Events"].values():
        assert event["Type"] == "OSS"
        p = event["Properties"]
        out.append(
            (frozenset(p["Events"]), p["Filter"]["Key"]["Prefix"], p["Filter"]["Key"]["Suffix"], p["BucketName"])
        )
    return out


def _s_triggers(s_props: dict[str, Any]) -> list[tuple[frozenset[str], str]]:
    """(events, bucket) of each EventBridge-based OSS trigger of s.yaml."""
    out = []
    for trigger in s_props["triggers"]:
        assert trigger["triggerType"] == "eventbridge"
        c = trigger["triggerConfig"]
        assert c["eventSourceConfig"]["eventSourceType"] == "Default" and c["asyncInvocationType"] is True
        pattern = json.loads(c["eventRuleFilterPattern"])
        assert pattern["source"] == ["acs.oss"]
        (bucket,) = pattern["data"]["oss"]["bucket"]["name"]
        out.append((frozenset(pattern["type"]), bucket))
    return out


def test_same_trigger_events(fun_function: dict[str, Any], s_props: dict[str, Any]) -> None:
    fun_rules = _fun_triggers(fun_function)
    assert len(fun_rules) <= 10  # OSS: 10 native triggers per bucket
    assert {suffix for _, _, suffix, _ in fun_rules} == LAST_LETTERS
    assert {prefix for _, prefix, _, _ in fun_rules} == {""}
    assert all(events == CREATED for events, _, _, _ in fun_rules)
    assert [events for events, _ in _s_triggers(s_props)] == [CREATED]


def test_results_never_fire_a_trigger(fun_function: dict[str, Any]) -> None:
    result_suffix = Settings().result_suffix
    for _, prefix, suffix, _ in _fun_triggers(fun_function):
        assert suffix, "an empty suffix would match the .faces.json results: a trigger loop"
        for written in (result_suffix, result_suffix + CLAIM_SUFFIX):
            assert not f"{prefix}photo.jpg{written}".endswith(suffix)


def test_same_bucket_and_least_privilege_policy(
    fun_function: dict[str, Any], fun_service: dict[str, Any], s_props: dict[str, Any]
) -> None:
    buckets = {t[3] for t in _fun_triggers(fun_function)}
    assert len(buckets) == 1
    (bucket,) = buckets
    assert _load("s.yaml")["vars"]["bucket"] == bucket
    assert {t[1] for t in _s_triggers(s_props)} == {"${vars.bucket}"}
    (policy,) = fun_service["Policies"]
    objects, claims, imm = policy["Statement"]
    assert objects["Effect"] == claims["Effect"] == imm["Effect"] == "Allow"
    assert not any("*" in action for statement in policy["Statement"] for action in statement["Action"])
    assert set(objects["Action"]) == POLICY_ACTIONS
    assert objects["Resource"] == [f"acs:oss:*:*:{bucket}/*"]
    assert claims["Action"] == ["oss:DeleteObject"]  # deleting is allowed on claim objects only
    assert claims["Resource"] == [f"acs:oss:*:*:{bucket}/*{Settings().result_suffix}{CLAIM_SUFFIX}"]
    # engine imm2: DetectImageFaces on one IMM v2 project, the one s.yaml names for its role's policy
    assert imm["Action"] == ["imm:DetectImageFaces"]
    assert imm["Resource"] == [f"acs:imm:*:*:project/{_load('s.yaml')['vars']['immProject']}"]


def test_deploy_guide_shows_the_same_policy(fun_service: dict[str, Any]) -> None:
    guide = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", guide, re.S) if '"Statement"' in b]
    assert blocks, "docs/deploy.md must show the role's policy as a json block"
    for template_statement in fun_service["Policies"][0]["Statement"]:
        assert any(
            set(s["Action"]) == set(template_statement["Action"]) and s["Resource"] == template_statement["Resource"]
            for block in blocks
            for s in block["Statement"]
        )
