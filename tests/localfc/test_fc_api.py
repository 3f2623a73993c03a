"""FC 2.0's invoke API, driven by the real ``fc2`` client: Sync, Async, handler errors, signatures, unknown names."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator

import fc2
import pytest
import requests
from fc2.fc_exceptions import FcError

from ossfaces_localstack.fc.api import ApiServer, FcApi
from ossfaces_localstack.fc.invoker import DeliveryPolicy, Invoker
from ossfaces_localstack.fc.triggers import FunctionSpec

from .localfc_support import ScriptedRunner, make_context

AK, SK = "LTAI-test-key", "test-secret"
FN = FunctionSpec("face-detect", "face-svc", max_async_retry_attempts=2)


@pytest.fixture
def api() -> Iterator[tuple[str, Invoker, ScriptedRunner]]:
    runner = ScriptedRunner()
    invoker = Invoker({FN.qualified_name: runner}, make_context, policy=DeliveryPolicy(backoff_scale=0.01))
    server = ApiServer(FcApi(invoker, [FN], {AK: SK}.get).app)
    server.start()
    try:
        yield server.endpoint, invoker, runner
    finally:
        server.stop()
        invoker.stop()


def _client(endpoint: str, secret: str = SK, key: str = AK) -> fc2.Client:
    return fc2.Client(endpoint=endpoint, accessKeyID=key, accessKeySecret=secret, Timeout=10)


def test_sync_returns_the_handlers_value(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, invoker, _ = api
    response = _client(endpoint).invoke_function("face-svc", "face-detect", payload=b'{"n": 1}')
    assert json.loads(response.data) == {"n": 1}
    rid = response.headers["x-fc-request-id"]
    (invocation,) = invoker.invocations()
    assert (invocation.request_id, invocation.source, invocation.outcome) == (rid, "api:sync", "succeeded")


def test_sync_with_qualifier_and_log_tail(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, _, _ = api
    response = _client(endpoint).invoke_function(
        "face-svc", "face-detect", payload=b'{"n": 2}', qualifier="LATEST", headers={"x-fc-log-type": "Tail"}
    )
    assert json.loads(response.data) == {"n": 2}
    assert "x-fc-log-result" in response.headers


def test_async_is_accepted_then_run_with_retries(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, invoker, runner = api
    response = _client(endpoint).invoke_function(
        "face-svc", "face-detect", payload=b'{"n": 3, "fail": 1}', headers={"x-fc-invocation-type": "Async"}
    )
    assert response.data == b""
    rid = response.headers["x-fc-request-id"]
    assert invoker.wait_idle(5)
    (invocation,) = invoker.invocations()
    assert (invocation.request_id, invocation.source, invocation.attempts, invocation.outcome) == (
        rid, "api:async", 2, "succeeded")  # fmt: skip
    assert runner.numbers() == [3, 3]


def test_handler_error_is_unhandled_invocation_error(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, _, _ = api
    with pytest.raises(FcError) as raised:
        _client(endpoint).invoke_function("face-svc", "face-detect", payload=b'{"n": 4, "fail": 1}')
    assert raised.value.status_code == 200
    assert json.loads(raised.value.message)["errorMessage"] == "scripted"


def test_raw_error_header(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    """What fc2 keys on: status 200 with x-fc-error-type (checked without fc2's own interpretation)."""
    endpoint, _, _ = api
    client = _client(endpoint)
    path = "/2016-08-15/services/face-svc/functions/face-detect/invocations"
    headers = client._build_common_headers("POST", path, {})
    response = requests.post(endpoint + path, data=b'{"n": 5, "fail": 1}', headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-fc-error-type"] == "UnhandledInvocationError"


def test_wrong_secret_is_signature_not_match(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, invoker, _ = api
    with pytest.raises(FcError) as raised:
        _client(endpoint, secret="wrong").invoke_function("face-svc", "face-detect", payload=b'{"n": 1}')
    assert (raised.value.status_code, raised.value.err_code) == (403, "SignatureNotMatch")
    assert invoker.invocations() == []


def test_tampered_header_breaks_the_signature(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, _, _ = api
    client = _client(endpoint)
    path = "/2016-08-15/services/face-svc/functions/face-detect/invocations"
    headers = client._build_common_headers("POST", path, {"x-fc-invocation-type": "Sync"})
    headers["x-fc-invocation-type"] = "Async"  # signed as Sync
    response = requests.post(endpoint + path, data=b"{}", headers=headers, timeout=10)
    assert response.status_code == 403 and response.json()["ErrorCode"] == "SignatureNotMatch"


def test_unknown_key_id(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, _, _ = api
    with pytest.raises(FcError) as raised:
        _client(endpoint, key="nobody").invoke_function("face-svc", "face-detect", payload=b"{}")
    assert (raised.value.status_code, raised.value.err_code) == (403, "InvalidAccessKeyID")


@pytest.mark.parametrize(
    ("service", "function", "code"),
    [("other-svc", "face-detect", "ServiceNotFound"), ("face-svc", "other", "FunctionNotFound")],
)
def test_unknown_names_are_404(
    api: tuple[str, Invoker, ScriptedRunner], service: str, function: str, code: str
) -> None:
    endpoint, _, _ = api
    with pytest.raises(FcError) as raised:
        _client(endpoint).invoke_function(service, function, payload=b"{}")
    assert (raised.value.status_code, raised.value.err_code) == (404, code)


def test_async_payload_limit(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, _, _ = api
    with pytest.raises(FcError) as raised:
        _client(endpoint).invoke_function("face-svc", "face-detect", payload=b"x" * (128 * 1024 + 1),
                                          headers={"x-fc-invocation-type": "Async"})  # fmt: skip
    assert (raised.value.status_code, raised.value.err_code) == (400, "EntityTooLarge")


@pytest.mark.parametrize(("mode", "limit"), [("Sync", 6 * 2**20), ("Async", 128 * 2**10)])
def test_a_payload_over_the_limit_is_refused_without_being_held(
    api: tuple[str, Invoker, ScriptedRunner], mode: str, limit: int
) -> None:
    """32 MiB sent in chunks: the answer is FC's ``EntityTooLarge``, and the server (a thread of this process) never
    held more than the limit of it (Python's allocations, traced: reading the whole body first held all of it)."""
    endpoint, invoker, _ = api
    path = "/2016-08-15/services/face-svc/functions/face-detect/invocations"
    headers = _client(endpoint)._build_common_headers("POST", path, {"x-fc-invocation-type": mode})
    del headers["content-length"]  # not signed; the body is sent in chunks

    def chunks() -> Iterator[bytes]:
        chunk = b"x" * 2**20
        for _ in range(32):
            yield chunk

    tracemalloc.start()
    try:
        response = requests.post(endpoint + path, data=chunks(), headers=headers, timeout=30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (response.status_code, response.json()["ErrorCode"]) == (400, "EntityTooLarge")
    assert peak < limit + 4 * 2**20
    assert invoker.invocations() == []


def test_proxy_path_with_signed_query(api: tuple[str, Invoker, ScriptedRunner]) -> None:
    endpoint, _, runner = api
    response = _client(endpoint).do_http_request(
        "POST", "face-svc", "face-detect", "/run", params={"a": "1", "b": "x y"}, body=b'{"n": 9}'
    )
    assert response.status_code == 200 and json.loads(response.content) == {"n": 9}
    assert runner.numbers() == [9]
