#!/usr/bin/env bash
# Install everything and start the store on embedded defaults (SQLite, local files,
# in-process jobs) with the demo catalog. Open http://127.0.0.1:8000/docs
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/toolbox serve --demo "$@"
