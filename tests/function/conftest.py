"""Fixtures of tests/function live in handler_support (importable by name from the tests)."""

from handler_support import context, function_env, imm, unused_port

__all__ = ["context", "function_env", "imm", "unused_port"]
