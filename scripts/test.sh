#!/usr/bin/env bash
# One command: set up, lint, type-check, then run the whole suite on SQLite and on PostgreSQL.
#
# PostgreSQL: TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test) names
# a server where the tests may create and drop their own databases. With CI=true that leg is
# required; elsewhere it runs when the server answers and says plainly when it is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PY=.venv/bin/python
# axe-core for the browser tests' accessibility checks, pinned in package-lock.json; the tests
# load it from node_modules into the page (never a CDN).
if command -v npm >/dev/null 2>&1; then
  echo "==> npm ci (axe-core)"
  npm ci --no-audit --no-fund --silent
fi
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"

echo "==> ruff (lint and format)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy (strict)"
.venv/bin/mypy

declare -a legs=()
postgres_up() {
  $PY - <<'PY'
import os, sys
import psycopg
url = os.environ["TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://")
try:
    psycopg.connect(url, connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable at {url}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

if postgres_up; then
  # The two legs run side by side (each is one Python process; this halves the wall time on
  # two cores). Each leg's output is kept whole and printed when both are done.
  logs=$(mktemp -d)
  echo "==> pytest on SQLite and on PostgreSQL, side by side"
  TEST_DATABASE=sqlite $PY -m pytest -p no:cacheprovider "$@" > "$logs/sqlite.log" 2>&1 &
  sqlite_pid=$!
  TEST_DATABASE=postgresql $PY -m pytest -p no:cacheprovider "$@" > "$logs/postgresql.log" 2>&1 &
  postgres_pid=$!
  sqlite_rc=0; postgres_rc=0
  wait "$sqlite_pid" || sqlite_rc=$?
  wait "$postgres_pid" || postgres_rc=$?
  echo "==> pytest on SQLite"; cat "$logs/sqlite.log"
  echo "==> pytest on PostgreSQL"; cat "$logs/postgresql.log"
  rm -rf "$logs"
  legs+=("sqlite: $([ $sqlite_rc = 0 ] && echo passed || echo "FAILED (exit $sqlite_rc)")")
  legs+=("postgresql: $([ $postgres_rc = 0 ] && echo passed || echo "FAILED (exit $postgres_rc)")")
  echo "==> summary"
  printf '   %s\n' "${legs[@]}"
  [ $sqlite_rc = 0 ] && [ $postgres_rc = 0 ]
  exit $?
elif [ "${CI:-}" = "true" ]; then
  echo "error: CI=true needs the PostgreSQL leg, but no server answered at $TEST_POSTGRES_URL" >&2
  exit 1
else
  echo "==> pytest on SQLite"
  TEST_DATABASE=sqlite $PY -m pytest -p no:cacheprovider "$@"
  echo "!! SKIPPED the PostgreSQL leg: no server at $TEST_POSTGRES_URL (set TEST_POSTGRES_URL to run it)"
  legs+=("sqlite: passed" "postgresql: SKIPPED (no server)")
fi
echo "==> summary"
printf '   %s\n' "${legs[@]}"
