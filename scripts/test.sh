#!/usr/bin/env bash
# Install everything (with dev tools) and run the linters and the whole test suite.
# PostgreSQL and Redis are expected on 127.0.0.1 (override with TOOLBOX_TEST_PG_URL and
# TOOLBOX_TEST_REDIS_URL); tests needing them skip locally and fail under CI=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n 2 "$@"
