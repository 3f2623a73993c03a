"""Triggers read from fun's template.yml and Serverless Devs' s.yaml, and when an upload matches one."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from ossfaces_localstack.fc.descriptors import discover, load_s_yaml, load_template, load_triggers
from ossfaces_localstack.fc.patterns import check_pattern, pattern_matches
from ossfaces_localstack.fc.reach import loop_risk
from ossfaces_localstack.fc.triggers import FunctionSpec, Trigger, for_local_bucket

TEMPLATE = textwrap.dedent(
    """
    ROSTemplateFormatVersion: '2015-09-01'
    Transform: 'Aliyun::Serverless-2018-04-03'
    Resources:
      face-svc:
        Type: 'Aliyun::Serverless::Service'
        Properties:
          Role: !Ref SomeRole
        face-detect:
          Type: 'Aliyun::Serverless::Function'
          Properties:
            Handler: index.handler
            Initializer: index.initializer
            Runtime: custom
            CodeUri: ./src
            MemorySize: 1024
            Timeout: 90
            EnvironmentVariables:
              OSSFACES_RESULT_SUFFIX: .faces.json
              PATH: /opt/python3.10/bin
            AsyncConfiguration:
              MaxAsyncRetryAttempts: 2
          Events:
            jpg:
              Type: OSS
              Properties:
                BucketName: my-photos
                Events: [oss:ObjectCreated:PutObject, oss:ObjectCreated:CompleteMultipartUpload]
                Filter:
                  Key: {Prefix: uploads/, Suffix: .jpg}
            legacy-lowercase:
              Type: oss
              Properties:
                bucketName: my-photos
                events: ['oss:ObjectCreated:*']
                filter:
                  key: {prefix: '', suffix: .png}
            timer:
              Type: Timer
              Properties: {CronExpression: '0 0 * * * *'}
    """
)

S_YAML = textwrap.dedent(
    """
    edition: 3.0.0
    name: faces
    vars:
      region: cn-shanghai
      bucket: my-photos
    resources:
      face-detect:
        component: fc3
        props:
          region: ${vars.region}
          functionName: face-detect
          runtime: python3.10
          code: ./function
          handler: index.handler
          memorySize: 512
          timeout: 60
          asyncInvokeConfig:
            maxAsyncRetryAttempts: 5
          instanceLifecycleConfig:
            initializer: {handler: index.initializer, timeout: 30}
          triggers:
            - triggerName: oss-jpg
              triggerType: oss
              sourceArn: acs:oss:${vars.region}:${config('AccountID')}:${vars.bucket}
              triggerConfig:
                events: [oss:ObjectCreated:PutObject, oss:ObjectCreated:PostObject]
                filter:
                  key: {prefix: 'in/', suffix: .jpg}
            - triggerName: http
              triggerType: http
              triggerConfig: {authType: anonymous}
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "template.yml").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "s.yaml").write_text(S_YAML, encoding="utf-8")
    return tmp_path


def test_template_triggers_and_function(project: Path) -> None:
    triggers = load_template(project / "template.yml")
    assert [t.name for t in triggers] == ["jpg", "legacy-lowercase"]  # the Timer event is not an OSS trigger
    jpg, legacy = triggers
    assert (jpg.bucket, jpg.prefix, jpg.suffix) == ("my-photos", "uploads/", ".jpg")
    assert jpg.events == ("oss:ObjectCreated:PutObject", "oss:ObjectCreated:CompleteMultipartUpload")
    assert (legacy.bucket, legacy.prefix, legacy.suffix, legacy.events) == (
        "my-photos",
        "",
        ".png",
        ("oss:ObjectCreated:*",),
    )
    fn = jpg.function
    assert (fn.service, fn.name, fn.handler, fn.initializer) == (
        "face-svc",
        "face-detect",
        "index.handler",
        "index.initializer",
    )
    assert (fn.memory, fn.timeout, fn.max_async_retry_attempts) == (1024, 90, 2)
    assert fn.code_dir == (project / "src").resolve()
    assert fn.environment["OSSFACES_RESULT_SUFFIX"] == ".faces.json"


def test_s_yaml_triggers_resolve_variables(project: Path) -> None:
    (trigger,) = load_s_yaml(project / "s.yaml", account_id="999")
    assert trigger.name == "oss-jpg"
    assert (trigger.bucket, trigger.region, trigger.account_id) == ("my-photos", "cn-shanghai", "999")
    assert (trigger.prefix, trigger.suffix) == ("in/", ".jpg")
    assert trigger.events == ("oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject")
    fn = trigger.function
    assert (fn.service, fn.name, fn.initializer, fn.max_async_retry_attempts, fn.timeout) == (
        "",
        "face-detect",
        "index.initializer",
        5,
        60,
    )
    assert fn.code_dir == (project / "function").resolve()


def test_default_retries_when_unset(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(S_YAML.replace("maxAsyncRetryAttempts: 5", "qualifier: LATEST"), encoding="utf-8")
    (trigger,) = load_s_yaml(tmp_path / "s.yaml")
    assert trigger.function.max_async_retry_attempts == 3


def test_discover_and_local_bucket_override(project: Path) -> None:
    assert [p.name for p in discover(project)] == ["s.yaml"]  # the maintained deploy path, never both
    (project / "s.yaml").unlink()
    assert [p.name for p in discover(project)] == ["template.yml"]
    paths = [project / "template.yml", project / "s.yaml"]
    (project / "s.yaml").write_text(S_YAML, encoding="utf-8")
    local = for_local_bucket(load_triggers(paths), "local-bucket")
    assert {t.bucket for t in local} == {"local-bucket"}
    assert len(local) == 3  # different prefixes: nothing merged


def test_same_trigger_in_both_files_fires_once(tmp_path: Path) -> None:
    template = TEMPLATE.replace("Prefix: uploads/", "Prefix: in/").replace(
        "[oss:ObjectCreated:PutObject, oss:ObjectCreated:CompleteMultipartUpload]",
        "[oss:ObjectCreated:PostObject, oss:ObjectCreated:PutObject]",
    )
    (tmp_path / "template.yml").write_text(template, encoding="utf-8")
    (tmp_path / "s.yaml").write_text(S_YAML, encoding="utf-8")
    local = for_local_bucket(load_triggers([tmp_path / "template.yml", tmp_path / "s.yaml"]), "b")
    assert sorted(t.name for t in local) == ["jpg", "legacy-lowercase"]


def _trigger(events: tuple[str, ...], prefix: str = "", suffix: str = "") -> Trigger:
    return Trigger("t", FunctionSpec("fn"), "b", events, prefix, suffix)


@pytest.mark.parametrize(
    ("events", "event_name", "expected"),
    [
        (("oss:ObjectCreated:PutObject",), "ObjectCreated:PutObject", True),
        (("oss:ObjectCreated:PutObject",), "ObjectCreated:PostObject", False),
        (("oss:ObjectCreated:*",), "ObjectCreated:CompleteMultipartUpload", True),
        (("oss:ObjectCreated:*",), "ObjectCreated:AppendObject", True),
        (("oss:ObjectCreated:*",), "ObjectRemoved:DeleteObject", False),
        (("oss:ObjectCreated:PostObject", "oss:ObjectCreated:CopyObject"), "ObjectCreated:CopyObject", True),
    ],
)
def test_event_matching(events: tuple[str, ...], event_name: str, expected: bool) -> None:
    assert _trigger(events).matches("b", event_name, "k.jpg") is expected


@pytest.mark.parametrize(
    ("prefix", "suffix", "key", "expected"),
    [
        ("uploads/", ".jpg", "uploads/a.jpg", True),
        ("uploads/", ".jpg", "other/a.jpg", False),
        ("uploads/", ".jpg", "uploads/a.JPG", False),  # OSS suffixes are case-sensitive
        ("", ".jpg", "a.jpg.faces.json", False),
        ("", "", "anything", True),
    ],
)
def test_prefix_suffix_matching(prefix: str, suffix: str, key: str, expected: bool) -> None:
    assert _trigger(("oss:ObjectCreated:*",), prefix, suffix).matches("b", "ObjectCreated:PutObject", key) is expected


def test_other_bucket_never_matches() -> None:
    assert not _trigger(("oss:ObjectCreated:*",)).matches("other", "ObjectCreated:PutObject", "a.jpg")


@pytest.mark.parametrize(
    ("events", "suffix", "loops"),
    [
        (("oss:ObjectCreated:PutObject",), "", True),
        (("oss:ObjectCreated:*",), ".json", True),
        (("oss:ObjectCreated:PutObject",), ".jpg", False),
        (("oss:ObjectCreated:PostObject",), "", False),  # the function writes with PutObject
    ],
)
def test_loop_risk(events: tuple[str, ...], suffix: str, loops: bool) -> None:
    risk = loop_risk(_trigger(events, "photos/", suffix), ".faces.json")
    assert (risk is not None) is loops
    if risk:
        assert "photos/photo" in risk


def test_project_descriptors_never_fire_on_results() -> None:
    """The project's own template.yml and s.yaml: no trigger fires on the function's results (coverage of the image
    suffixes: test_fc_reach.py)."""
    root = Path(__file__).resolve().parents[2]
    for name in ("template.yml", "s.yaml"):
        triggers = load_triggers([root / name])
        assert triggers and not any(loop_risk(t, ".faces.json") for t in triggers), name


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (["acs.oss"], "acs.oss", True),
        (["acs.oss"], "ACS.OSS", False),  # case-sensitive, as EventBridge
        ([{"suffix": ".jpg"}, {"suffix": ".JPG"}], "a/b.JPG", True),
        ([{"suffix": ".jpg"}], "a/b.Jpg", False),
        ([{"prefix": "photos/"}], "photos/a.jpg", True),
        ([{"contains": "/2026/"}], "x/2026/a.jpg", True),
        ([{"anything-but": "x"}], "y", True),
        ([{"anything-but": ["x", "y"]}], "y", False),
        ([{"anything-but": {"prefix": "tmp/"}}], "tmp/a.jpg", False),
        ([{"exists": False}], None, True),
    ],
)
def test_eventbridge_pattern_operators(rule: list[Any], value: Any, expected: bool) -> None:
    event = {"data": {"oss": {"object": {"key": value}}}} if value is not None else {"data": {"oss": {"object": {}}}}
    assert pattern_matches({"data": {"oss": {"object": {"key": rule}}}}, event) is expected


def test_eventbridge_pattern_is_and_across_fields_and_checked() -> None:
    pattern = {
        "source": ["acs.oss"],
        "type": ["oss:ObjectCreated:PutObject"],
        "data": {"oss": {"bucket": {"name": ["b"]}}},
    }
    event = {"source": "acs.oss", "type": "oss:ObjectCreated:PutObject", "data": {"oss": {"bucket": {"name": "b"}}}}
    assert pattern_matches(pattern, event)
    assert not pattern_matches(pattern, {**event, "type": "oss:ObjectCreated:CopyObject"})
    assert not pattern_matches(pattern, {**event, "data": {"oss": {"bucket": {"name": "other"}}}})
    with pytest.raises(ValueError, match="not emulated"):
        check_pattern({"data": {"size": [{"numeric": [">", 0]}]}})


def _s_yaml_with_pattern(tmp_path: Path, pattern: str) -> Path:
    (tmp_path / "s.yaml").write_text(
        textwrap.dedent(
            f"""
            edition: 3.0.0
            resources:
              faces:
                component: fc3
                props:
                  functionName: faces
                  triggers:
                    - triggerName: mine
                      triggerType: eventbridge
                      triggerConfig:
                        eventSourceConfig:
                          eventSourceType: Default
                        eventRuleFilterPattern: '{pattern}'
            """
        ),
        encoding="utf-8",
    )
    return tmp_path


def test_a_pattern_without_source_matches_oss_events_as_eventbridge_does(tmp_path: Path) -> None:
    """EventBridge checks only the fields a pattern names: without ``source`` it holds for OSS's events on the default
    bus as well. The local stack reads that trigger and fires it; it does not swap in its built-in one."""
    from ossfaces_localstack.stack import LocalStack

    project = _s_yaml_with_pattern(tmp_path, '{"type": ["oss:ObjectCreated:PutObject"]}')
    (trigger,) = load_triggers(discover(project))
    assert (trigger.name, trigger.kind) == ("mine", "eventbridge")
    assert trigger.matches("any", "ObjectCreated:PutObject", "a.jpg")
    assert not trigger.matches("any", "ObjectCreated:UploadPart", "a.jpg")
    stack = LocalStack(tmp_path / "data", project_dir=project, fc_port=None, detector=lambda data: [], fsync=False)
    assert [t.name for t in stack.triggers] == ["mine"]


def test_a_descriptor_without_an_oss_trigger_is_said_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A pattern on other events (``source: acs.mns``) is not OSS's: the stack says the file declares no trigger it can
    fire, names the file and the trigger it passed over, and what it runs instead."""
    from ossfaces_localstack.stack import LocalStack

    project = _s_yaml_with_pattern(tmp_path, '{"source": ["acs.mns"]}')
    assert load_triggers(discover(project)) == []
    with caplog.at_level("WARNING", logger="ossfaces_localstack"):
        stack = LocalStack(tmp_path / "data", project_dir=project, fc_port=None, detector=lambda data: [], fsync=False)
    text = caplog.text
    assert "no s.yaml or template.yml" not in text
    assert str(project / "s.yaml") in text and "'mine'" in text and "acs.mns" in text
    assert "built-in" in text and [t.name for t in stack.triggers] == ["oss-images"]
    with stack:
        assert f"triggers          from built-in defaults ({project / 's.yaml'} declares none" in stack.describe()
