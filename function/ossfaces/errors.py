"""The three kinds of failure, decided by what a retry can change (docs/design.md "Errors").

- ``BadImage``: the photo itself cannot be analysed. The pipeline writes a document with ``Error`` and returns normally.
- ``ConfigError``: configuration or permission. The invocation fails with a message that says what to fix.
- ``TransientError``: network, throttling, 5xx, timeouts. The invocation fails so that FC retries it.
"""

from __future__ import annotations


class OssFacesError(Exception):
    """Base of the project's own errors; ``code`` is stable and machine-readable, ``message`` is for people."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


class BadImage(OssFacesError):
    """The image is corrupt, unsupported, empty or too large to analyse. Retrying cannot help."""


class ConfigError(OssFacesError):
    """Something the operator must fix: credentials, permissions, IMM binding, endpoint, settings."""


class TransientError(OssFacesError):
    """Something that may succeed on retry: network errors, throttling, server errors."""
