#!/usr/bin/env bash
# One command: set up, migrate the embedded SQLite database, load the demo practice, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what serving needs: no test, lint or type-check tools (a quicker first run).
bash scripts/bootstrap.sh --runtime
export PRACTICE_DASHBOARD_ENVIRONMENT="${PRACTICE_DASHBOARD_ENVIRONMENT:-development}"
# A stable development key for this checkout (kept out of git), so logins survive restarts.
if [ -z "${SECRET_KEY:-}" ]; then
  mkdir -p var
  [ -s var/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret_key
  chmod 600 var/secret_key
  SECRET_KEY="$(cat var/secret_key)"
  export SECRET_KEY
fi
.venv/bin/practice-dashboard demo
exec .venv/bin/practice-dashboard serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
