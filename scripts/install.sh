#!/usr/bin/env bash
# Create ./.venv and install the kernel, the five integrations and the example plugin.
# Usage: bash scripts/install.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# setuptools>=77 in the venv: the packaging tests build wheels without build isolation (fast).
.venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=77"
extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi
# constraints.txt pins every third-party package to the versions the test suite passed with,
# so a fresh machine (and CI) gets the tested set; CONSTRAINTS= (empty) installs the newest.
# Regenerate after an upgrade: bash scripts/freeze-constraints.sh
CONSTRAINTS=${CONSTRAINTS-constraints.txt}
constraint_args=()
if [ -n "$CONSTRAINTS" ]; then
  if [ ! -f "$CONSTRAINTS" ]; then echo "install.sh: $CONSTRAINTS not found" >&2; exit 1; fi
  constraint_args=(-c "$CONSTRAINTS")
fi
# The five integrations are installed editable, like the kernel: they are developed here.
.venv/bin/python -m pip install --quiet "${constraint_args[@]}" -e ".${extras}" \
  -e ./toolbox_payme -e ./toolbox_click -e ./toolbox_bts -e ./toolbox_eskiz -e ./toolbox_moysklad
# The example plugins are installed like any outside package: from their folders, not editable.
.venv/bin/python -m pip install --quiet "${constraint_args[@]}" ./plugins/example ./plugins/telegram
