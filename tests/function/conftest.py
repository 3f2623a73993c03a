"""Fixtures of tests/function live in handler_support (imported by the tests as ``.handler_support``)."""

from .handler_support import app, context, handler, imm, unused_port

__all__ = ["app", "context", "handler", "imm", "unused_port"]
