"""Fixtures of tests/function live in handler_support (importable by name from the tests)."""

from handler_support import app, context, handler, imm, unused_port

__all__ = ["app", "context", "handler", "imm", "unused_port"]
