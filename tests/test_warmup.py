"""gunicorn's master builds the web processes' caches before it forks them (gis_app.warmup)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from gis_app.warmup import warm
from layers import point_index
from layers.geocoding.index import _INDEX as GEOCODER_INDEXES
from tests.test_geocoding import CORNERS, GRID


@pytest.mark.django_db(transaction=True)
def test_a_fresh_database_warms_what_it_has_closes_its_connection_and_is_not_an_error(two_square_wards):
    point_index.clear()
    built = warm()
    assert "wards point index" in built and "config memo" in built and "geocoder index" not in built
    assert built[0] == "URLconf and views"
    assert connection.connection is None  # closed: no forked worker shares the master's connection


@pytest.mark.django_db
def test_the_geocoder_index_and_the_district_index_are_built_before_any_request(grid_city):
    grid_city("little city", CORNERS, GRID)
    point_index.clear()
    built = warm(close=False)  # the test's transaction stays open
    assert built[:3] == ["URLconf and views", "geocoder index", "wards point index"]
    assert GEOCODER_INDEXES and point_index._CACHE  # kept in this process, ready to be forked


# A worker's life as gunicorn's arbiter runs it: the hook is called from the `finally` around it.
WORKER_LIFE = """
import os, sys, types
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
import django
django.setup()
sys.path.insert(0, "gis_app")
import gunicorn_conf
worker = types.SimpleNamespace(pid={pid})
try:
    sys.exit({status})
finally:
    gunicorn_conf.worker_exit(None, worker)
    print("still here")
"""


def _live(pid: str, status: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WORKER_LIFE.format(pid=pid, status=status)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("status", [0, 3])
def test_a_leaving_worker_exits_at_once_with_the_status_gunicorn_gave_it(status):
    """A recycled worker skips the interpreter's teardown (gunicorn forks its replacement only when it is gone);
    a boot error's status (3, which stops the master) survives the shortcut."""
    done = _live("os.getpid()", status)
    assert done.returncode == status, done.stderr[-2000:]
    assert "still here" not in done.stdout


def test_the_master_tidying_after_a_vanished_worker_is_not_ended_by_the_hook():
    done = _live("-1", 0)  # gunicorn's kill_worker calls the hook in the master for a worker already gone
    assert "still here" in done.stdout, done.stderr[-2000:]
    assert done.returncode == 0
