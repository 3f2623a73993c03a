#!/usr/bin/env bash
# README command 2: lint, type-check and run the whole test suite (after scripts/setup.sh).
# Arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the fast loop for daily work.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check function localstack tools tests benchmarks scripts
.venv/bin/ruff format --check function localstack tools tests benchmarks scripts
.venv/bin/mypy  # one strict run over the package, the tests, the benchmarks and the scripts (pyproject's [tool.mypy])
# The tests, spread over the cores (pytest-xdist), measuring which lines of function/ (what FC runs) they execute.
.venv/bin/python -m pytest -n auto --cov --cov-report= "$@"
total=$(.venv/bin/coverage report --format=total --precision=1)
echo "coverage of function/ (the deployed code): ${total} % of its lines (.venv/bin/coverage report -m: the lines missed)"
if [ $# -eq 0 ]; then  # the whole suite must keep the deployed code covered
  .venv/bin/coverage report --fail-under=90 >/dev/null || { echo "coverage of function/ is under 90 %" >&2; exit 1; }
fi
