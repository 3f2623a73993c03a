#!/usr/bin/env bash
# README command 2: lint, type-check and run the whole test suite (after scripts/setup.sh).
# Arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the fast loop for daily work.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check function localstack tools tests benchmarks scripts
.venv/bin/ruff format --check function localstack tools tests benchmarks scripts
.venv/bin/mypy   # the package (pyproject's [tool.mypy]: strict)
# Tests, benchmarks and scripts are type-checked like the code. Each test folder is its own import root (pytest's
# rootdir mode: a conftest.py and *_support.py per folder), so each is checked on its own.
typecheck() { MYPYPATH="function:localstack:tools:tests:scripts:$1" .venv/bin/mypy --follow-imports=silent --no-error-summary "${@:2}"; }
typecheck tests tests/*.py
for dir in tests/*/ benchmarks scripts; do typecheck "$dir" "$dir"; done
.venv/bin/python -m pytest "$@"
