#!/usr/bin/env bash
# Serve the demo: a Celery worker and beat (SLA checks, the outbox relay) beside gunicorn; Ctrl-C stops all three.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VENV:-$ROOT/.venv}/bin/python"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var
"$PY" -m celery -A gis_app worker --pool=prefork --concurrency=2 --loglevel=warning --logfile=var/celery-worker.log &
WORKER=$!
"$PY" -m celery -A gis_app beat --loglevel=warning --schedule=var/celerybeat-schedule --logfile=var/celery-beat.log &
BEAT=$!
trap 'kill $WORKER $BEAT 2>/dev/null || true' EXIT INT TERM
echo "==> worker (pid $WORKER) and beat (pid $BEAT) running; logs in var/"
# Static files gathered once for WhiteNoise; the site served by gunicorn, workers sized to the cores.
"$PY" manage.py collectstatic --noinput -v0
echo "==> serving http://$HOST:$PORT/ with gunicorn (Ctrl-C to stop); health: /healthz, /readyz"
# CACHE_URL: the workers share one cache (rate limits count across them, a tile is built once).
CACHE_URL="${CACHE_URL:-redis://127.0.0.1:6379/1}" HOST="$HOST" PORT="$PORT" WHITENOISE_USE_FINDERS=0 "$PY" -m gunicorn -c gis_app/gunicorn_conf.py gis_app.wsgi
