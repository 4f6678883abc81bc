#!/usr/bin/env bash
# Write constraints.txt from .venv: every installed third-party package, pinned, without the
# project's own packages (the kernel, the integrations, the example plugin).
# Run it after the test suite passed on a freshly upgraded venv.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Versions the test suite passed with (scripts/freeze-constraints.sh); used by scripts/install.sh."
  .venv/bin/python -m pip freeze --exclude-editable --all \
    | grep -viE '^(toolbox[-_]|pip==|setuptools==|wheel==)' | LC_ALL=C sort -f
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
