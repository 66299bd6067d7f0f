#!/usr/bin/env bash
# The test command's body (after scripts/setup.sh): lint, types, Django checks, migrations, pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
start=$(date +%s)
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

step "ruff check + ruff format --check"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
step "mypy"
"$VENV/bin/mypy" gis_app layers routing field_api benchmarks
step "compile the translations"
"$PY" manage.py compilemessages -v0 --ignore=.venv
step "migrate + load the city's layers into the dev database (no-op when unchanged)"
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py load_layers
step "manage.py check (with database checks)"
"$PY" manage.py check --database default
step "makemigrations --check"
"$PY" manage.py makemigrations --check --dry-run
step "pytest"
# On every core (PYTEST_WORKERS, default auto), a test file per worker at a time: files that share a live
# server, a Celery worker or a Redis database stay in one process. Files in collection order, where the files
# marked heavy come first (tests/conftest.py), not xdist's most-tests-first order.
"$PY" -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile --no-loadscope-reorder "$@"
echo "test command finished in $(( $(date +%s) - start )) s (after set-up)"
