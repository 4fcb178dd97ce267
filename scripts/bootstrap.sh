#!/usr/bin/env bash
# Sets up .venv with the project at the versions CI tested (requirements/constraints.txt).
#
#   bash scripts/bootstrap.sh            # the project and its dev tools (tests, lint, types)
#   bash scripts/bootstrap.sh --runtime  # only what serving and the demo need
#
# Re-runs pip only when pyproject.toml or the constraints change, or when dev tools are asked
# for and only the runtime is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

want_extras=dev
case "${1:-}" in
  --runtime) want_extras=runtime ;;
  "") ;;
  *) echo "usage: bash scripts/bootstrap.sh [--runtime]" >&2; exit 2 ;;
esac

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1 || echo none))." >&2
  echo "       Set PYTHON=/path/to/python3.11 to choose another interpreter." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  if ! "$PYTHON" -m venv .venv; then
    echo "error: could not create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv" >&2
    exit 1
  fi
fi
constraints=requirements/constraints.txt
stamp=.venv/.bootstrap-stamp
inputs=$(cat pyproject.toml "$constraints" | sha256sum | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
# A dev install also serves the runtime; a runtime install does not serve dev.
if [ "$have" = "$inputs dev" ] || { [ "$want_extras" = runtime ] && [ "$have" = "$inputs runtime" ]; }; then
  exit 0
fi
target=.
[ "$want_extras" = dev ] && target='.[dev]'
echo "==> installing the project ($want_extras) into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c "$constraints" -e "$target"
echo "$inputs $want_extras" > "$stamp"
