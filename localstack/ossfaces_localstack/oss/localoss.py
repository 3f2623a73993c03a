"""LocalOss: the local OSS server as an object – background thread for tests and the stack, foreground for the CLI."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import uvicorn

from ..asgi import PromptServer
from .auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Authenticator
from .events import Listener, Processor
from .names import check_bucket_name
from .protocol import with_header_timeout
from .server import OssApp
from .storage import Storage

log = logging.getLogger(__name__)

# A request's headers, and each stretch of its body, must arrive within this long (else 400 RequestTimeout).
READ_TIMEOUT_S = 60.0


class LocalOss:
    """An OSS endpoint on this machine, speaking the real REST API to the real SDKs.

    Binds to loopback unless told otherwise: it is a development tool with a published default key pair.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "cn-hangzhou",
        credentials: Mapping[str, str] | None = None,
        buckets: Sequence[str] = (),
        processors: Mapping[str, Processor] | None = None,
        listeners: Sequence[Listener] = (),
        fsync: bool = True,
        read_timeout: float = READ_TIMEOUT_S,
        restore_seconds: float = 60.0,
    ) -> None:
        creds = dict(credentials) if credentials else {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}
        self.access_key_id, self.access_key_secret = next(iter(creds.items()))
        self.region = region
        self.data_dir = Path(data_dir)
        self.host = host
        self._requested_port = port
        self.storage = Storage(self.data_dir, fsync=fsync)
        for b in buckets:
            check_bucket_name(b)
            self.storage.create_bucket(b)
        self.buckets = tuple(buckets)
        self.auth = Authenticator(creds, region)
        self.app = OssApp(
            self.storage,
            self.auth,
            region=region,
            virtual_host_suffixes=[host, "localhost"],
            processors=processors,
            listeners=listeners,
            read_timeout=read_timeout,
            restore_seconds=restore_seconds,
        )
        self.read_timeout = read_timeout
        self._sock: socket.socket | None = None
        self._server: PromptServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def add_listener(self, fn: Listener) -> None:
        self.app.listeners.append(fn)

    def set_processor(self, prefix: str, fn: Processor) -> None:
        self.app.processors[prefix] = fn

    def issue_sts(self, duration_s: int = 3600) -> tuple[str, str, str]:
        """(ak, sk, security token) this server accepts, like FC's ``context.credentials``."""
        return self.auth.issue_sts(duration_s)

    def bind(self) -> int:
        """Take the port without listening yet, so :attr:`endpoint` is known while connections are still refused.

        The local stack binds first, builds everything that delivers an upload's event (which needs the endpoint), and
        only then :meth:`start` serves: nothing is accepted before it can be delivered.
        """
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets whose proto says TCP (accepted sockets
            # inherit it); with Nagle on, a response's body waits ~40 ms for the client's delayed ACK of its headers.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            self.port = sock.getsockname()[1]
            self._sock = sock
        return self.port

    def _bind(self) -> socket.socket:
        self.bind()
        assert self._sock is not None
        self._sock.listen(2048)
        return self._sock

    def _make_server(self) -> PromptServer:
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_keep_alive=30,
            log_config=None,
            http=with_header_timeout(self.read_timeout),
        )
        return PromptServer(config)

    def start(self) -> None:
        """Serve in a background thread; returns once the socket accepts connections."""
        if self._thread is not None:
            return
        sock = self._bind()
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="local-oss", daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("local OSS failed to start")
            threading.Event().wait(0.01)

    def serve_forever(self, on_bound: Callable[[LocalOss], None] | None = None) -> None:
        """Serve in the foreground until interrupted (Ctrl-C / SIGTERM), for ``ossfaces up`` and ``python -m``.

        ``on_bound`` runs once the port is known (e.g. to print :meth:`describe`) and before requests are served.
        """
        sock = self._bind()
        if on_bound is not None:
            on_bound(self)
        self._server = self._make_server()
        try:
            self._server.run(sockets=[sock])
        finally:
            self._close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.storage.close()

    def __enter__(self) -> LocalOss:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def describe(self) -> str:
        """What a user needs to point a client at this server (printed by ``ossfaces up`` and ``python -m``)."""
        lines = [
            "Local OSS is running",
            f"  endpoint          {self.endpoint}",
            f"  region            {self.region}",
            f"  access key id     {self.access_key_id}",
            f"  access key secret {self.access_key_secret}",
            f"  buckets           {', '.join(b.name for b in self.storage.list_buckets()) or '(none)'}",
            f"  data directory    {self.data_dir}",
            "  use it with oss2:",
            f"    oss2.Bucket(oss2.Auth({self.access_key_id!r}, {self.access_key_secret!r}), {self.endpoint!r}, BUCKET)",
        ]
        return "\n".join(lines)
