# The two commands a newcomer needs: `make demo` and `make test`. Each sets the machine up itself
# (Debian packages, PostgreSQL, PostGIS, virtualenv) and is idempotent.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SYNTHETIC_DAYS ?= 84
SYNTHETIC_PER_DAY ?= 800
# `make demo CITY=san_francisco`: another city's files (fixtures/<city>/) in a database of its own.
CITY ?= chicago
export CITY
ifneq ($(CITY),chicago)
GIS311_DB ?= gis311_$(CITY)
export GIS311_DB
endif

.PHONY: setup demo demo-data test bench lint fuzz-api backup restore

setup:
	@bash scripts/setup.sh

demo-data: setup
	$(PY) manage.py compilemessages -v0 --ignore=.venv
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py load_layers
	$(PY) manage.py load_streets
	$(PY) manage.py load_311
	$(PY) manage.py learn_addresses
	$(PY) manage.py load_assumptions
	$(PY) manage.py load_knowledge
	$(PY) manage.py load_crews
	$(PY) manage.py learn_dedup
	$(PY) manage.py replay_today
	$(PY) manage.py generate_requests --once --days $(SYNTHETIC_DAYS) --per-day $(SYNTHETIC_PER_DAY)
	$(PY) manage.py plan_routes --date workday --publish --if-missing --time-limit 10
	$(PY) manage.py demo_admin
	$(PY) manage.py demo_council
	$(PY) manage.py issue_device_link --busiest --name "Demo tablet"

demo: demo-data
	@HOST=$(HOST) PORT=$(PORT) bash scripts/demo.sh

test: setup
	@bash scripts/test.sh

# schemathesis over /api/schema/ (Open311 JSON included), anonymous and as each role: no server error, no answer off its schema.
fuzz-api: setup
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m pytest -m fuzz tests/fuzz -p no:cacheprovider -s $(ARGS)

backup: setup
	$(PY) manage.py backup $(if $(TO),--to $(TO))

# make restore FROM=var/backups/<time> DB=gis311_restored MEDIA=var/media-restored
restore: setup
	$(PY) manage.py restore $(FROM) --database $(or $(DB),gis311_restored) --media-to $(or $(MEDIA),var/media-restored)

bench: demo-data
	$(PY) benchmarks/run_all.py $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gis_app layers routing field_api benchmarks
