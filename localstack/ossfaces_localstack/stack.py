"""The whole local stack: local OSS + the triggers of template.yml / s.yaml + the function + FC's invoke API.

Wiring, in one place:
- every object-created commit of the local OSS asks ``LocalStack`` which triggers match; each match becomes FC's OSS
  event, written as a pending delivery in the object's own SQLite transaction, then queued on the ``Invoker`` (async,
  retried) — the upload's response never waits for the function. A delivery is deleted once the function has run
  (or moved to the failed deliveries once its retries ran out, FC's OnFailure destination); a start replays the rest,
  so an acknowledged upload gets its event even across kill -9. The OSS port is served only once all this runs;
- the function runs in-process or through ``function/bootstrap``, with an FC-like context whose STS credentials the
  local OSS issued, and ``OSSFACES_OSS_ENDPOINT`` pointing at the local OSS;
- the local OSS answers ``x-oss-process=imm/detectface`` with the local face engine in IMM v1's shape, so the function's
  default engine ``imm`` runs its real code path; the local IMM v2 OpenAPI endpoint (``localstack.imm``, its own port)
  answers ``DetectImageFaces`` from the same detector for engine ``imm2``;
- FC 2.0's invoke API serves ``fc2`` clients (backfill) on a port of its own.

The detector behind the IMM answers is ``detectface.py``; ``ossfaces invoke`` (one event, no triggers) is ``invoke.py``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from ossfaces.errors import OssFacesError
from ossfaces.events import parse_event
from ossfaces.idempotency import CLAIM_SUFFIX, META_CLAIM_REQUEST
from ossfaces.settings import DEFAULT_IMAGE_SUFFIXES, Settings
from ossfaces_localstack.detectface import IMM_DETECTFACE, FaceDetector, imm_detectface, local_face_detector
from ossfaces_localstack.fc.api import ApiServer, FcApi
from ossfaces_localstack.fc.context import Credentials, FCContext, FunctionMeta, ServiceMeta
from ossfaces_localstack.fc.descriptors import discover, load_triggers
from ossfaces_localstack.fc.events import build_event
from ossfaces_localstack.fc.invoker import DeliveryPolicy, Invocation, Invoker, new_request_id
from ossfaces_localstack.fc.patterns import pattern_matches
from ossfaces_localstack.fc.reach import loop_risk, reach_report, settings_of
from ossfaces_localstack.fc.runner import Mode, Runner, make_runner
from ossfaces_localstack.fc.triggers import (
    DEFAULT_ACCOUNT_ID,
    FunctionSpec,
    Trigger,
    default_triggers,
    for_local_bucket,
)
from ossfaces_localstack.imm import DEFAULT_PROJECT, LocalImm
from ossfaces_localstack.oss import LocalOss, ObjectCreated, OssError
from ossfaces_localstack.oss.events import Delivery, FailedDelivery
from ossfaces_localstack.snippet import upload_snippet

log = logging.getLogger("ossfaces_localstack")

DEFAULT_BUCKET = "ossfaces-local"
DEFAULT_OSS_PORT = 9400
DEFAULT_FC_PORT = 9401
DEFAULT_IMM_PORT = 9402  # the local IMM v2 OpenAPI endpoint of `ossfaces up`
STS_DURATION_S = 36 * 3600  # FC's STS credentials last 36 h


def result_suffix_of(function: FunctionSpec) -> str:
    """The suffix the function appends to a photo's key for its result, from its own environment when it sets one."""
    configured = function.environment.get("OSSFACES_RESULT_SUFFIX")
    return Settings(result_suffix=configured).result_suffix if configured else Settings().result_suffix


class LocalStack:
    """Everything ``ossfaces up`` runs, as an object tests can start, upload to, wait on and stop."""

    def __init__(
        self,
        data_dir: Path,
        *,
        project_dir: Path | None = None,
        descriptors: Sequence[Path] | None = None,
        triggers: Sequence[Trigger] | None = None,
        bucket: str | None = None,
        host: str = "127.0.0.1",
        oss_port: int = 0,
        fc_port: int | None = 0,
        imm_port: int = 0,
        region: str = "cn-hangzhou",
        mode: Mode = "inprocess",
        engine: Literal["imm", "imm2", "local"] = "imm",
        policy: DeliveryPolicy | None = None,
        workers: int = 4,
        detector: FaceDetector | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        environment: Mapping[str, str] | None = None,
        fsync: bool = True,
    ) -> None:
        """``triggers`` wins over ``descriptors``, which win over template.yml / s.yaml found in ``project_dir``.

        ``fc_port=None`` leaves FC's invoke API off. ``environment`` adds variables for the function (after the stack's).
        """
        self.data_dir = Path(data_dir)
        self.mode: Mode = mode
        self.engine = engine
        self.account_id = account_id
        self.descriptors = list(descriptors) if descriptors is not None else discover(project_dir or Path.cwd())
        declared = list(triggers) if triggers is not None else load_triggers(self.descriptors, account_id=account_id)
        self.bucket = bucket or next((t.bucket for t in declared if t.bucket and "$" not in t.bucket), DEFAULT_BUCKET)
        if not declared and triggers is None:
            read = ", ".join(str(p) for p in self.descriptors)
            log.warning(
                "%s: the built-in trigger runs instead (EventBridge, image suffixes in 3 cases, bucket %s)",
                f"{read} declares no trigger on OSS's events" if read else "no s.yaml or template.yml", self.bucket,
            )  # fmt: skip
            declared = default_triggers(self.bucket, DEFAULT_IMAGE_SUFFIXES)
        self.triggers = for_local_bucket(declared, self.bucket)
        self.functions = list({t.function.qualified_name: t.function for t in self.triggers}.values())
        self._extra_env = dict(environment or {})
        self._detector = detector or local_face_detector()
        self.imm: LocalImm | None = None
        self.oss = LocalOss(
            self.data_dir,
            host=host,
            port=oss_port,
            region=region,
            buckets=(self.bucket,),
            processors={IMM_DETECTFACE: imm_detectface(self._detector, self._max_image_bytes())},
            fsync=fsync,
        )
        self.oss.storage.router = self._route
        self.oss.storage.on_pending = self._deliver
        self._fc_port = fc_port
        self._imm_port = imm_port
        self._host = host
        self.policy = policy or DeliveryPolicy()
        self._workers = workers
        self.runners: dict[str, Runner] = {}
        self.invoker: Invoker | None = None
        self.api: ApiServer | None = None
        self._issued: dict[str, str] = {}  # STS key id → secret, also accepted by the FC API
        self._warnings: list[str] = []
        self._warned: set[str] = set()
        self._inflight: set[int] = set()  # ids of pending deliveries handed to the invoker
        self._lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Bind the OSS port, start the function side, and only then serve OSS: no upload before its trigger exists."""
        try:
            self.oss.bind()  # the endpoint the function is given; connections are refused until oss.start()
            self.imm = LocalImm(
                self.oss, self._detector, projects=self.imm_projects(), host=self._host, port=self._imm_port,
                max_image_bytes=self._max_image_bytes(),
            ).start()  # fmt: skip
            for function in self.functions:
                runner = make_runner(self.mode, function, self.function_environment(function))
                runner.start()
                self.runners[function.qualified_name] = runner
            self.invoker = Invoker(self.runners, self.context_for, policy=self.policy, workers=self._workers)
            pending = self.oss.storage.pending_deliveries()
            if pending:
                log.info("replaying %d pending deliveries left by the previous run", len(pending))
                self._release_dead_claims(pending)
                self._deliver(pending)
            self.oss.start()
            if self._fc_port is not None:
                api = FcApi(self.invoker, self.functions, self._secret_for)
                self.api = ApiServer(api.app, self._host, self._fc_port)
                self.api.start()
        except BaseException:
            self.stop()
            raise
        for trigger in self.triggers:
            risk = loop_risk(trigger, result_suffix_of(trigger.function))
            if risk:
                self._warn(f"static:{trigger.name}", risk)
        return self

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None
        invoker, self.invoker = self.invoker, None
        if invoker is not None:
            invoker.stop()  # what it had not finished stays pending in the data directory
        with self._lock:
            self._inflight.clear()
        for runner in self.runners.values():
            runner.stop()
        self.runners.clear()
        if self.imm is not None:
            self.imm.stop()
            self.imm = None
        self.oss.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the function sees ----------------------------------------------------------------------------------

    def function_environment(self, function: FunctionSpec) -> dict[str, str]:
        """What the stack sets on top of the function's own variables: the local OSS and IMM endpoints, the engine."""
        env = {"OSSFACES_OSS_ENDPOINT": self.oss.endpoint, "OSSFACES_ENGINE": self.engine}
        if self.imm is not None:
            env["OSSFACES_IMM_ENDPOINT"] = self.imm.endpoint
        if not function.environment.get("OSSFACES_IMM_PROJECT"):
            env["OSSFACES_IMM_PROJECT"] = DEFAULT_PROJECT
        return env | self._extra_env

    def imm_projects(self) -> tuple[str, ...]:
        """The IMM v2 projects the local endpoint serves: the functions' own, and the default."""
        named = (f.environment.get("OSSFACES_IMM_PROJECT", "") for f in self.functions)
        extra = self._extra_env.get("OSSFACES_IMM_PROJECT", "")
        return tuple(dict.fromkeys(p for p in (DEFAULT_PROJECT, *named, extra) if p and "$" not in p))

    def _max_image_bytes(self) -> int:
        """The largest object the local IMM answers read: the function's own ``OSSFACES_MAX_IMAGE_BYTES``."""
        sizes = [settings_of(f).max_image_bytes for f in self.functions]
        return max(sizes) if sizes else Settings().max_image_bytes

    def context_for(self, function: FunctionSpec, request_id: str) -> FCContext:
        """FC's context for one invocation, with fresh STS credentials from the local OSS."""
        key_id, secret, token = self.oss.issue_sts(STS_DURATION_S)
        with self._lock:
            self._issued[key_id] = secret
        return FCContext(
            request_id=request_id,
            credentials=Credentials(key_id, secret, token),
            function=FunctionMeta(
                name=function.name,
                handler=function.handler,
                memory=function.memory,
                timeout=function.timeout,
                initializer=function.initializer,
            ),
            service=ServiceMeta(name=function.service or function.name, qualifier="LATEST"),
            region=self.oss.region,
            account_id=self.account_id,
        )

    def _secret_for(self, access_key_id: str) -> str | None:
        if access_key_id == self.oss.access_key_id:
            return self.oss.access_key_secret
        with self._lock:
            return self._issued.get(access_key_id)

    # --- the trigger ---------------------------------------------------------------------------------------------

    def _route(self, created: ObjectCreated) -> list[Delivery]:
        """Inside the object's transaction: one FC event per matching trigger, to be stored as pending deliveries."""
        deliveries = []
        for trigger in self.triggers:
            if trigger.kind == "eventbridge":  # the whole CloudEvent against the pattern, as EventBridge does
                event = build_event(created, trigger, self.oss.region)
                if not pattern_matches(trigger.pattern or {}, json.loads(event)):
                    continue
            elif trigger.matches(created.bucket, created.event_name, created.key):
                event = build_event(created, trigger, self.oss.region)
            else:
                continue
            if created.key.endswith(result_suffix_of(trigger.function)):
                self._warn(
                    f"runtime:{trigger.name}",
                    f"the function's own result {created.key!r} fired trigger {trigger.name!r} again (a trigger loop: "
                    "each result costs one more invocation); narrow the trigger's suffix or prefix",
                )
            deliveries.append(
                Delivery(trigger.function.qualified_name, f"trigger:{trigger.name}", new_request_id(), event)
            )
        return deliveries

    def _deliver(self, deliveries: Sequence[Delivery]) -> None:
        """Queue committed pending deliveries on the invoker (each once); before start they wait for its replay."""
        with self._lock:
            invoker = self.invoker
            if invoker is None:
                return
            fresh = [d for d in deliveries if d.id not in self._inflight]
            self._inflight.update(d.id for d in fresh)
        for delivery in fresh:
            function = next((f for f in self.functions if f.qualified_name == delivery.target), None)
            if function is None:
                self._delivered(delivery, None)
                continue
            try:
                invoker.submit(function, delivery.payload, source=delivery.source, request_id=delivery.request_id,
                               on_done=functools.partial(self._delivered, delivery))  # fmt: skip
            except RuntimeError:  # stopping: it stays pending for the next start
                with self._lock:
                    self._inflight.discard(delivery.id)

    def _release_dead_claims(self, pending: Sequence[Delivery]) -> None:
        """The previous run died with these deliveries, and with it every invocation that ran them: release the claims
        those invocations held (the claim names its request id, which a delivery keeps across restarts). FC never
        needs this — its platform does not die with the instances — but without it a photo whose analysis the crash cut
        short would wait out the function's lease (timeout + 30 s) and lose its retries to ``InProgress``."""
        storage = self.oss.storage
        for delivery in pending:
            function = next((f for f in self.functions if f.qualified_name == delivery.target), None)
            if function is None:
                continue
            try:
                records = parse_event(delivery.payload)  # any trigger's shape: {"events": […]} or CloudEvent(s)
            except OssFacesError:
                continue
            for record in records:
                bucket, key = record.bucket, record.key
                claim = key + result_suffix_of(function) + CLAIM_SUFFIX
                try:
                    held = storage.head(bucket, claim).user_meta.get(META_CLAIM_REQUEST)
                except OssError:
                    continue
                if held == delivery.request_id:
                    storage.delete(bucket, claim)
                    log.info("released claim %s/%s of invocation %s, killed by the crash", bucket, claim, held)

    def _delivered(self, delivery: Delivery, invocation: Invocation | None) -> None:
        """The function ran it (delete it), or its retries ran out (keep it among the failed deliveries, logged)."""
        storage = self.oss.storage
        if invocation is not None and invocation.outcome == "succeeded":
            storage.finish_delivery(delivery.id)
        else:
            error = (
                f"failed after {invocation.attempts} attempt(s): {invocation.error}"
                if invocation is not None
                else f"function {delivery.target!r} is no longer declared"
            )
            storage.fail_delivery(delivery.id, error)
            log.error(
                "delivery %s (%s, request %s) %s; kept in the failed deliveries of %s",
                delivery.id, delivery.source, delivery.request_id, error, self.data_dir,
            )  # fmt: skip
        with self._lock:
            self._inflight.discard(delivery.id)

    def _warn(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
            self._warnings.append(message)
        log.warning("trigger loop: %s", message)

    def loop_warnings(self) -> list[str]:
        """Every trigger-loop warning so far: found in the triggers at start, or seen when a result fired one."""
        with self._lock:
            return list(self._warnings)

    # --- observing and invoking ----------------------------------------------------------------------------------

    def _require_invoker(self) -> Invoker:
        if self.invoker is None:
            raise RuntimeError("the local stack is not started")
        return self.invoker

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._require_invoker().wait_idle(timeout)

    def pending_deliveries(self) -> list[Delivery]:
        """Trigger events not yet delivered (queued, running, retrying, or left by a previous run)."""
        return self.oss.storage.pending_deliveries()

    def failed_deliveries(self) -> list[FailedDelivery]:
        """Trigger events whose retries ran out, with their last error (FC's async OnFailure destination, locally)."""
        return self.oss.storage.failed_deliveries()

    def invocations(self, function: str | None = None) -> list[Invocation]:
        return self._require_invoker().invocations(function)

    def invoke(self, event: bytes, function: str | None = None) -> Invocation:
        """Run the function once on ``event``, synchronously (``ossfaces invoke``)."""
        spec = self.function(function)
        return self._require_invoker().invoke_sync(spec, event, source="invoke")

    def function(self, name: str | None = None) -> FunctionSpec:
        for spec in self.functions:
            if name is None or name in (spec.name, spec.qualified_name):
                return spec
        raise KeyError(f"no function {name!r}; known: {', '.join(f.qualified_name for f in self.functions)}")

    def reach_report(self) -> list[str]:
        """Which keys reach the function, by image suffix and case (the function's own suffix list), and which never."""
        if not self.triggers:
            return ["no trigger: no upload reaches the function"]
        return reach_report(self.triggers, settings_of(self.triggers[0].function))

    def describe(self) -> str:
        """What ``ossfaces up`` prints: where everything is, and how to use it from oss2 and fc2."""
        oss = self.oss
        lines = [
            "ossfaces local stack is running (Ctrl-C stops it)",
            f"  OSS endpoint      {oss.endpoint}",
            f"  region            {oss.region}",
            f"  bucket            {self.bucket}",
            f"  access key id     {oss.access_key_id}",
            f"  access key secret {oss.access_key_secret}   (local only, not a secret)",
            f"  data directory    {self.data_dir}",
            f"  function          {', '.join(f.qualified_name for f in self.functions)} "
            f"({self.mode}, engine {self.engine}, imm/detectface served by the local engine)",
        ]
        if self.imm is not None:
            lines.append(
                f"  IMM v2 endpoint   {self.imm.endpoint}   (DetectImageFaces, projects {', '.join(self.imm.projects)})"
            )
        if self.api is not None:
            lines.append(f"  FC API (fc2)      {self.api.endpoint}")
        declared = dict.fromkeys(str(t.source) for t in self.triggers if t.source is not None)
        sources = ", ".join(declared) or "built-in defaults" + (
            f" ({', '.join(str(p) for p in self.descriptors)} declares none on OSS's events)"
            if self.descriptors
            else ""
        )
        lines.append(f"  triggers          from {sources}")
        lines += [f"    {t.summary()}" for t in self.triggers]
        lines += ["  " + line for line in self.reach_report()]
        return "\n".join(lines)

    def snippet(self) -> str:
        """Python that uploads ``me.jpg`` to this stack and waits for its result (``ossfaces up`` prints it last)."""
        oss = self.oss
        return upload_snippet(oss.endpoint, self.bucket, oss.access_key_id, oss.access_key_secret)


def run_foreground(stack: LocalStack, on_started: Callable[[LocalStack], None] | None = None) -> None:
    """``ossfaces up``: start, report, serve until Ctrl-C or SIGTERM, then stop (queued deliveries stay pending; the
    next start replays them)."""
    import signal

    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stack.start()
    try:
        if on_started is not None:
            on_started(stack)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
