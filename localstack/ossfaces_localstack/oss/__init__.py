"""A local OSS server that the real oss2 SDK (and other OSS SDKs) talk to over HTTP.

Public interface: :class:`LocalOss`, the object-created notice :class:`ObjectCreated`, and the ``x-oss-process`` hooks
(:class:`ProcessRequest`, :data:`ProcessResult`, :data:`Processor`, :class:`ProcessError`).
"""

from .auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from .errors import OssError, ProcessError
from .events import Listener, ObjectCreated, Processor, ProcessRequest, ProcessResult
from .localoss import LocalOss

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "Listener",
    "LocalOss",
    "ObjectCreated",
    "OssError",
    "ProcessError",
    "ProcessRequest",
    "ProcessResult",
    "Processor",
]
