"""The index built by the deployed function: one async invocation per chunk through fc2 and the local stack's FC
invoke API, each delivered twice (FC is at least once), the real handler writing the parts; every face once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from ossfaces.events import IndexPartEvent, parse_invocation
from ossfaces_localstack.fc.invoker import DeliveryPolicy
from ossfaces_tools.index.layout import IndexStore
from ossfaces_tools.stats import StatsAccumulator, collect, read_documents

from .conftest import bucket_of, env_of, make_stack
from .test_index import SUFFIX, from_index, random_documents

CLI = Callable[..., Result]


def test_fan_out_on_fc_end_to_end(tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSSFACES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    stack = make_stack(tmp_path, DeliveryPolicy(duplicates=2, backoff_scale=0.01))
    try:
        bucket = bucket_of(stack)
        random_documents(bucket, 45, seed=11, prefix="fan/")
        spec = stack.function()
        assert stack.api is not None
        args = ["index", stack.bucket, "--prefix", "fan/", "--region", stack.oss.region, "--oss-endpoint",
                stack.oss.endpoint, "--fc-endpoint", stack.api.endpoint, "--service", spec.service or spec.name,
                "--function", spec.name, "--chunk", "10", "--rate", "20", "--wait", "120", "--json"]  # fmt: skip
        result = cli(args, env=env_of(stack))
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout.splitlines()[-1])
        assert (summary["mode"], summary["read"], summary["parts_written"]) == ("fc", 45, 5)
        sent = [parse_invocation(i.event) for i in stack.invocations() if i.source == "api:async"]
        parts = [e for e in sent if isinstance(e, IndexPartEvent)]
        assert len(parts) == 10 and len({e.part for e in parts}) == 5  # every chunk delivered twice …
        manifest = IndexStore(bucket, "fan/").load()
        assert sorted(p.key for p in manifest.parts) == sorted({e.part for e in parts})  # … and written once
        scanned = collect(read_documents(bucket, "fan/", SUFFIX, workers=4), StatsAccumulator())
        assert from_index(bucket, "fan/").report().to_dict() == scanned.report().to_dict()
    finally:
        stack.stop()


def test_the_index_event_is_routed_explicitly() -> None:
    from ossfaces.errors import ConfigError
    from ossfaces.events import OssRecord

    event = {"ossfaces": "index-part", "bucket": "b", "region": "cn-hangzhou", "part": "p/x.parquet", "gen": 1,
             "suffix": ".faces.json", "results": [["a.jpg.faces.json", "E"]]}  # fmt: skip
    routed = parse_invocation(json.dumps(event))
    assert isinstance(routed, IndexPartEvent) and routed.results == [("a.jpg.faces.json", "E")]
    with pytest.raises(ConfigError, match="an index-part event that does not validate"):
        parse_invocation(json.dumps({**event, "gen": 0}))
    oss_event = {"events": [{"eventName": "ObjectCreated:PutObject", "eventTime": "2024-01-01T00:00:00Z",
                 "region": "cn-hangzhou", "oss": {"bucket": {"name": "b"}, "object": {"key": "k.jpg", "size": 1, "eTag": "E"}}}]}  # fmt: skip
    records = parse_invocation(json.dumps(oss_event))
    assert isinstance(records, list) and isinstance(records[0], OssRecord)
