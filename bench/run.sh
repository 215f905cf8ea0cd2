#!/usr/bin/env bash
# `make bench`: benchmarks against the real `web` process (gunicorn, PostgreSQL, Redis), written into
# docs/benchmarks.md. Works on a fresh clone after `make install`; see docs/benchmarks.md.
#
# Steps:
#   1. setup      wrk installed; a fresh PostgreSQL database (migrated, seeded); Redis DB flushed;
#                 the real app started exactly as the Procfile's `web` and waited for on /readyz.
#   2. catalogue  catalogue reads against the real app and a bare WSGI baseline (bench/bare_wsgi.py)
#                 serving the same bytes → bench/results/catalogue.md → docs/benchmarks.md; then the same for
#                 the alumni network's feed (GET /api/posts, 50 posts × 20 comments written by
#                 bench/feed_fixture.py, read with a bearer token) → bench/results/feed.md.
#   3. extras     every other bench/<name>_bench.py, in name order (webhook, push, mixed load, …):
#                   .venv/bin/python bench/<name>_bench.py --output bench/results/<name>.md
#                 with this environment: APP_ENV, SECRET_KEY, DATABASE_URL (the seeded bench database),
#                 REDIS_URL (the bench Redis DB), BENCH_WEB_URL (the real app, still running), BENCH_RESULTS
#                 (the results directory). Its Markdown lands between <!-- <name>:begin/end --> in
#                 docs/benchmarks.md (a new section is appended the first time). A failing step is reported
#                 and the others still run; the exit status is then non-zero.
# Everything started here (gunicorn processes, the database) is stopped/dropped on exit, even on failure.
#
# Knobs (environment): BENCH_STEPS (default "catalogue" plus every extra step found; e.g. BENCH_STEPS=webhook),
# BENCH_DB (raf_bench), BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/postgres, the server to create it
# on), BENCH_REDIS_URL (redis://127.0.0.1:6379/11, flushed), WRK_THREADS (2), WRK_CONNECTIONS (32),
# WRK_DURATION (10s), WRK_WARMUP (2s), BENCH_ROUNDS (3), BENCH_WORKERS (2).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=$PWD/.venv/bin
PY=$BIN/python
RESULTS=bench/results
DOC=docs/benchmarks.md
BENCH_DB=${BENCH_DB:-raf_bench}
BENCH_PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
BENCH_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/11}
BENCH_WORKERS=${BENCH_WORKERS:-2}
PATH_UNDER_TEST=/api/course-schedule
FEED_PATH=/api/posts

log() { printf '\n== %s\n' "$*" >&2; }

# ---- cleanup: only what this script started -------------------------------------------------------
SERVER_PIDS=()
DB_CREATED=0

server_stop() {  # PID: graceful TERM to the gunicorn master (it stops its workers), KILL after 25 s
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  echo "gunicorn $pid did not stop; killing its process group" >&2
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${SERVER_PIDS[@]}"; do server_stop "$pid"; done
  if [ "$DB_CREATED" = 1 ]; then
    "$PY" bench/benchlib.py db-drop "$BENCH_PG_URL" "$BENCH_DB" || echo "could not drop database $BENCH_DB" >&2
  fi
  "$PY" bench/benchlib.py redis-flush "$BENCH_REDIS_URL" 2>/dev/null || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# server_start NAME PORT APP: gunicorn with the repository's gunicorn.conf.py (as the Procfile's `web`), in a
# session of its own (so a stuck one can be killed with its workers). Sets SERVER_PID.
server_start() {
  local name=$1 port=$2 app=$3
  local starter=()
  command -v setsid >/dev/null && starter=(setsid)
  PORT=$port BIND_HOST=127.0.0.1 WEB_CONCURRENCY=$BENCH_WORKERS GUNICORN_THREADS=1 \
    "${starter[@]}" "$BIN/gunicorn" -c gunicorn.conf.py "$app" >"$RESULTS/$name.log" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
}

# ---- 1. setup -------------------------------------------------------------------------------------
ensure_wrk() {
  command -v wrk >/dev/null && return 0
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y wrk >/dev/null; }
  command -v wrk >/dev/null || { echo "wrk could not be installed" >&2; exit 1; }
}

setup() {
  [ -x "$PY" ] || { echo "no .venv: run 'make install' first" >&2; exit 1; }
  ensure_wrk
  mkdir -p "$RESULTS" docs
  export APP_ENV=production
  SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(36))')  # 48 characters
  export SECRET_KEY
  # Production refuses to start without a webhook secret (config.ProductionConfig); a throw-away one, unless set.
  if [ -z "${WEBHOOK_SECRET:-}" ]; then
    WEBHOOK_SECRET=whsec_$("$PY" -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')
  fi
  export WEBHOOK_SECRET
  export DATABASE_URL="${BENCH_PG_URL%/*}/$BENCH_DB"
  export REDIS_URL=$BENCH_REDIS_URL

  log "database $BENCH_DB: create, migrate, seed; flush $REDIS_URL"
  "$PY" bench/benchlib.py redis-flush "$REDIS_URL"
  DB_CREATED=1  # set before creating: a half-created database is dropped too
  "$PY" bench/benchlib.py db-create "$BENCH_PG_URL" "$BENCH_DB"
  "$BIN/flask" --app wsgi db upgrade >"$RESULTS/setup.log" 2>&1 || { cat "$RESULTS/setup.log" >&2; exit 1; }
  "$BIN/flask" --app wsgi seed >>"$RESULTS/setup.log" 2>&1 || { cat "$RESULTS/setup.log" >&2; exit 1; }

  WEB_PORT=$("$PY" bench/benchlib.py free-port)
  log "real app: gunicorn -c gunicorn.conf.py wsgi:app on 127.0.0.1:$WEB_PORT ($BENCH_WORKERS sync workers)"
  server_start web "$WEB_PORT" wsgi:app
  WEB_PID=$SERVER_PID
  "$PY" bench/benchlib.py wait-http "http://127.0.0.1:$WEB_PORT/readyz" "$WEB_PID" 60 \
    || { cat "$RESULTS/web.log" >&2; exit 1; }
  export BENCH_WEB_URL="http://127.0.0.1:$WEB_PORT" BENCH_RESULTS=$PWD/$RESULTS
}

# ---- 2. catalogue reads (and the feed, measured the same way) ------------------------------------------
# measure_read NAME PATH SUBJECT TITLE [HEADER]: capture the real app's raw/gzip/304 answers to GET PATH (with
# HEADER on every request, e.g. a bearer token), serve exactly those bytes from a bare WSGI app, measure both
# with wrk in turn, and write bench/results/NAME.md into docs/benchmarks.md between the NAME markers.
measure_read() {
  local name=$1 path=$2 subject=$3 title=$4 header=${5:-}
  local capture=$RESULTS/$name-capture headers=()
  [ -n "$header" ] && headers=(--header "$header")
  rm -rf "$capture"
  log "capturing the real app's responses to GET $path"
  "$PY" bench/benchlib.py capture "$BENCH_WEB_URL" "$path" "$capture" "${headers[@]}"

  local bare_port bare_pid
  bare_port=$("$PY" bench/benchlib.py free-port)
  log "bare app: gunicorn -c gunicorn.conf.py bench.bare_wsgi:app on 127.0.0.1:$bare_port ($name)"
  BARE_DIR=$PWD/$capture server_start "bare-$name" "$bare_port" bench.bare_wsgi:app
  bare_pid=$SERVER_PID
  "$PY" bench/benchlib.py wait-http "http://127.0.0.1:$bare_port$path" "$bare_pid" 30 \
    || { cat "$RESULTS/bare-$name.log" >&2; exit 1; }
  "$PY" bench/benchlib.py verify "http://127.0.0.1:$bare_port" "$path" "$capture" "${headers[@]}"

  log "measuring $name (wrk; real and bare in turn, never at once)"
  "$PY" bench/benchlib.py measure \
    --real "$BENCH_WEB_URL$path" --bare "http://127.0.0.1:$bare_port$path" \
    --etag "$(cat "$capture/etag_header")" --out "$RESULTS/$name.json" "${headers[@]}" \
    --threads "${WRK_THREADS:-2}" --connections "${WRK_CONNECTIONS:-32}" --duration "${WRK_DURATION:-10s}" \
    --warmup "${WRK_WARMUP:-2s}" --rounds "${BENCH_ROUNDS:-3}" --workers "$BENCH_WORKERS"
  server_stop "$bare_pid"

  log "report ($name)"
  "$PY" bench/benchlib.py report "$RESULTS/$name.json" "$capture" "$RESULTS/$name.md" --subject "$subject"
  "$PY" bench/benchlib.py splice "$DOC" "$name" "$RESULTS/$name.md" --title "$title"
}

step_catalogue() {
  measure_read catalogue "$PATH_UNDER_TEST" timetable "Catalogue reads"
  log "feed: 50 posts × 20 comments (bench/feed_fixture.py) and a reader's token"
  local token
  token=$("$PY" bench/feed_fixture.py 2>>"$RESULTS/setup.log") || { tail -20 "$RESULTS/setup.log" >&2; exit 1; }
  measure_read feed "$FEED_PATH" feed "The alumni network's feed" "Authorization: Bearer $token"
}

# ---- 3. further steps: bench/<name>_bench.py -------------------------------------------------------
step_extra() {  # NAME
  local name=$1
  log "$name: bench/${name}_bench.py"
  # Called in a `||` list, where `set -e` is off: every failure returns explicitly.
  "$PY" "bench/${name}_bench.py" --output "$RESULTS/$name.md" || return 1
  "$PY" bench/benchlib.py splice "$DOC" "$name" "$RESULTS/$name.md" || return 1
}

extra_steps() {
  local script
  for script in bench/*_bench.py; do
    [ -f "$script" ] || continue
    script=${script#bench/}
    echo "${script%_bench.py}"
  done
}

main() {
  local steps failed=()
  steps=${BENCH_STEPS:-"catalogue $(extra_steps | tr '\n' ' ')"}
  setup
  for step in $steps; do
    if [ "$step" = catalogue ]; then
      step_catalogue
    elif [ -f "bench/${step}_bench.py" ]; then
      # A failing extra step does not hide the others' figures; the run still fails at the end.
      step_extra "$step" || failed+=("$step")
    else
      echo "unknown bench step $step" >&2
      failed+=("$step")
    fi
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "bench steps failed: ${failed[*]}" >&2
    exit 1
  fi
  log "done: $DOC updated (figures in $RESULTS/)"
}

main "$@"
