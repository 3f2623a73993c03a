"""The ``context`` FC passes to a Python handler (FC 2.0 / FC 3.0 python3.x runtimes), rebuilt for local invocations.

Attribute names follow FC's own ``FCContext``/``Credentials``/``FunctionMeta``/``ServiceMeta`` classes so a handler cannot
tell a local invocation from a cloud one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """STS credentials of the function's role; locally, issued by the local OSS so it accepts them."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str
    memory: int
    timeout: int
    initializer: str = ""
    initialization_timeout: int = 0


@dataclass(frozen=True)
class ServiceMeta:
    name: str
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass(frozen=True)
class FCContext:
    request_id: str
    credentials: Credentials
    function: FunctionMeta
    service: ServiceMeta
    region: str
    account_id: str
