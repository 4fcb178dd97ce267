#!/usr/bin/env bash
# One command: set up, lint, type-check, then run the whole suite on SQLite and on PostgreSQL.
#
# PostgreSQL: TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test) names
# a server where the tests may create and drop their own databases. With CI=true that leg is
# required; elsewhere it runs when the server answers and says plainly when it is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "==> $* (at ${SECONDS} s)"; }  # each step's start, to see where CI's time goes
bash scripts/bootstrap.sh
PY=.venv/bin/python
# axe-core for the browser tests' accessibility checks, pinned in package-lock.json; the tests
# load it from node_modules into the page (never a CDN).
if command -v npm >/dev/null 2>&1; then
  say "npm ci (axe-core)"
  npm ci --no-audit --no-fund --silent
fi
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"

say "ruff (lint and format)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Every server, CLI and worker the tests start is a new Python process. Where the environment
# says PYTHONDONTWRITEBYTECODE (as this project's CI machine does), each one would compile the
# project's modules again: about 0.5 s of CPU a start. Compiled once here, they all read it.
say "compiling the project's modules once"
$PY -m compileall -q -j 0 src tests bench migrations

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
  # The legs run side by side (each one Python process; two cores) and each leg's output is
  # kept whole and printed when all are done. With no arguments the browser tests run once, in
  # a process of their own on PostgreSQL (the production engine): they test what a person
  # does in the pages, which the engine underneath does not change, while every API and page
  # test runs on both engines. Two more join that third process: the benchmark's smoke run
  # (tests/bench: it starts servers and Chromium, and itself covers both engines' code paths)
  # and the worker-pool tests (real servers, a minute of CPU, the same on either engine; the
  # SQLite leg finished last while it ran them). With arguments, both legs run what the
  # arguments select. Either way the PostgreSQL leg leaves out the tests that cannot reach a
  # database (analytics, templates, the PDF browser, imports): the SQLite leg runs them
  # (tests/conftest.py says which).
  logs=$(mktemp -d)
  declare -a names=() pids=()
  run_job() {  # name, command...: in the background, its output kept whole for the end
    local name=$1
    shift
    (
      started=$SECONDS
      rc=0
      "$@" > "$logs/$name.log" 2>&1 || rc=$?
      echo "$(( SECONDS - started )) s" > "$logs/$name.seconds"
      exit $rc
    ) &
    names+=("$name"); pids+=($!)
  }
  run_leg() {  # name, database, whether engine-independent tests run elsewhere, pytest arguments...
    local name=$1 database=$2 elsewhere=$3
    shift 3
    run_job "$name" env TEST_DATABASE="$database" TEST_ENGINE_INDEPENDENT_ELSEWHERE="$elsewhere" \
      $PY -m pytest -p no:cacheprovider "$@"
  }
  # mypy beside the tests: one core's work, which alone before them left the other idle.
  say "mypy (strict), beside the tests"
  run_job mypy .venv/bin/mypy
  if [ $# -eq 0 ]; then
    say "pytest on SQLite and on PostgreSQL, and the browser tests (PostgreSQL), side by side"
    pool=tests/cli/test_worker_pool.py
    run_leg browser postgresql 0 tests/browser tests/bench $pool
    run_leg sqlite sqlite 0 --ignore=tests/browser --ignore=tests/bench --ignore=$pool
    run_leg postgresql postgresql 1 --ignore=tests/browser --ignore=tests/bench --ignore=$pool
  else
    say "pytest on SQLite and on PostgreSQL, side by side"
    run_leg sqlite sqlite 0 "$@"
    run_leg postgresql postgresql 1 "$@"
  fi
  failed=0
  for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    [ $rc = 0 ] || failed=1
    outcome=$([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)")
    legs+=("${names[$i]}: $outcome in $(cat "$logs/${names[$i]}.seconds" 2>/dev/null || echo "?")")
  done
  for name in "${names[@]}"; do
    echo "==> $name"; cat "$logs/$name.log"
  done
  rm -rf "$logs"
  say "summary"
  printf '   %s\n' "${legs[@]}"
  exit $failed
elif [ "${CI:-}" = "true" ]; then
  echo "error: CI=true needs the PostgreSQL leg, but no server answered at $TEST_POSTGRES_URL" >&2
  exit 1
else
  say "mypy (strict)"
  .venv/bin/mypy
  say "pytest on SQLite"
  TEST_DATABASE=sqlite $PY -m pytest -p no:cacheprovider "$@"
  echo "!! SKIPPED the PostgreSQL leg: no server at $TEST_POSTGRES_URL (set TEST_POSTGRES_URL to run it)"
  legs+=("sqlite: passed" "postgresql: SKIPPED (no server)")
fi
say "summary"
printf '   %s\n' "${legs[@]}"
