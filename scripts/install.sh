#!/usr/bin/env bash
# Create ./.venv and install the kernel, the five integrations and the example plugin.
# Usage: bash scripts/install.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi
# The five integrations are installed editable, like the kernel: they are developed here.
.venv/bin/python -m pip install --quiet -e ".${extras}" \
  -e ./toolbox_payme -e ./toolbox_click -e ./toolbox_bts -e ./toolbox_eskiz -e ./toolbox_moysklad
# The example plugins are installed like any outside package: from their folders, not editable.
.venv/bin/python -m pip install --quiet ./plugins/example ./plugins/telegram
