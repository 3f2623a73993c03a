#!/usr/bin/env bash
# README command 2: lint, type-check and run the whole test suite (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check function tests benchmarks
.venv/bin/ruff format --check function tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
