"""The ``context`` FC passes to a Python handler, for local invocations: the very classes the custom runtime builds.

One definition (``ossfaces.runtime_api``, deployed with ``function/bootstrap``) serves both, so the in-process runner,
the bootstrap and FC's own runtime hand the handler the same attribute names.
"""

from ossfaces.runtime_api import Credentials, FCContext, FunctionMeta, ServiceMeta

__all__ = ["Credentials", "FCContext", "FunctionMeta", "ServiceMeta"]
