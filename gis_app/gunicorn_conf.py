"""gunicorn settings for `make demo` and production (`gunicorn -c gis_app/gunicorn_conf.py gis_app.wsgi`).

Workers are sized to the cores (WEB_CONCURRENCY overrides): one per core plus one, so a core is busy while a
worker waits on PostgreSQL. A worker that hangs is replaced after `timeout`; workers are recycled after 1,000
to 1,500 requests (the jitter is wide so that two workers seldom leave together) so a slow leak cannot grow.

Recycling costs no request seconds: the master is warmed and its heap frozen before it forks (`when_ready`),
and a leaving worker exits without tearing that heap down (`worker_exit`). Measured on 2 cores shared with
PostgreSQL and the load client (intake_load.py, 100 posts/s, 60 s): p95 4,150 ms before the two (a recycle
stalled its worker's share of requests for a full collection, then a teardown, of the index), 20 ms after;
with recycling switched off, 24 ms. The usual two workers per core plus one (5) only take turns on the same
cores.
"""

import gc
import multiprocessing
import os
import sys
from typing import Any

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 20
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "1000"))
# The application is imported, and its caches built (gis_app.warmup), once in the master: workers fork ready,
# so a start or a routine recycle costs no request seconds of CPU. WEB_PRELOAD=0 loads it in each worker.
preload_app = os.environ.get("WEB_PRELOAD", "1") != "0"
max_requests_jitter = max_requests // 2
# Uploads (crew photos) can be large: the request body is read by Django with its own limits.
limit_request_line = 8190
accesslog = os.environ.get("WEB_ACCESS_LOG", "var/gunicorn-access.log")
errorlog = os.environ.get("WEB_ERROR_LOG", "-")
loglevel = os.environ.get("WEB_LOG_LEVEL", "warning")
# What the Server header says is set by gis_app.middleware.SafeHeaders, not gunicorn's name and version.


def when_ready(server: Any) -> None:
    """In the master, after the application is loaded and before any worker is forked: build its caches."""
    if preload_app:
        from gis_app.warmup import warm  # the application is loaded by now (preload_app)

        built = warm()
        # Everything the master holds now (Django, the geocoder's index: millions of objects) lives as long as
        # the process. Frozen, the collector never scans it again: no worker pauses on a full collection over
        # it, and no collection writes to its pages, so a forked worker keeps sharing them with the master.
        gc.freeze()
        server.log.info(
            "caches built before forking: %s; %d objects frozen", ", ".join(built) or "none", gc.get_freeze_count()
        )


def worker_exit(server: Any, worker: Any) -> None:
    """A worker leaving (recycled, or the server stopping) first hands the jobs its requests committed to the
    broker, so they go out now rather than from the relay after its grace period.

    Then it leaves at once: an interpreter tearing down the master's heap (millions of objects) takes longer
    than a request (about 130 ms measured), and gunicorn forks the replacement only when this process is gone,
    so every recycle held that share of the requests. Nothing is left to finalise: the jobs are handed over, the
    database connections closed and the log handlers flushed; the exit status gunicorn set (a boot error
    stops the master) is kept. The master also calls this hook for a worker it found gone: it only drains."""
    import logging  # this file is read by gunicorn before Django is set up: these wait for the hook

    from django.db import connections  # (the application is loaded in every worker by now)

    from gis_app.outbox import drain  # (and in the master)

    drain(timeout=graceful_timeout / 2)
    if os.getpid() != getattr(worker, "pid", None):
        return  # the master, tidying after a worker that vanished
    leaving = sys.exc_info()[1]  # gunicorn calls this hook from the `finally` around the worker's life
    status = leaving.code if isinstance(leaving, SystemExit) else (1 if leaving else 0)
    connections.close_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status if isinstance(status, int) else 1)


def on_starting(server: object) -> None:
    """gunicorn writes its own `Server: gunicorn` before the application's headers: make it say the same as the
    application (SERVER_NAME_HEADER), so a response names no server software."""
    import gunicorn.http.wsgi  # gunicorn's own module, present only under gunicorn

    gunicorn.http.wsgi.SERVER = os.environ.get("SERVER_NAME_HEADER", "gis311")
