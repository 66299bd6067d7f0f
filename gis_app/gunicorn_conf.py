"""gunicorn settings for `make demo` and production (`gunicorn -c gis_app/gunicorn_conf.py gis_app.wsgi`).

Workers are sized to the cores (WEB_CONCURRENCY overrides): one per core plus one, so a core is busy while a
worker waits on PostgreSQL. Measured on 2 cores shared with PostgreSQL and the load client (intake_load.py, 100
posts/s): 3 workers answered at p95 149 ms where the usual two per core plus one (5) queued to p95 5 s, the
extra processes only taking turns on the same cores. A worker that hangs is replaced
after `timeout`; workers are recycled after about a thousand requests so a slow leak cannot grow.
"""

import multiprocessing
import os
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
max_requests_jitter = max_requests // 10
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
        server.log.info("caches built before forking: %s", ", ".join(built) or "none")


def worker_exit(server: Any, worker: Any) -> None:
    """A worker leaving (recycled, or the server stopping) first hands the jobs its requests committed to the
    broker, so they go out now rather than from the relay after its grace period."""
    from gis_app.outbox import drain  # the application is loaded in every worker by now

    drain(timeout=graceful_timeout / 2)


def on_starting(server: object) -> None:
    """gunicorn writes its own `Server: gunicorn` before the application's headers: make it say the same as the
    application (SERVER_NAME_HEADER), so a response names no server software."""
    import gunicorn.http.wsgi  # gunicorn's own module, present only under gunicorn

    gunicorn.http.wsgi.SERVER = os.environ.get("SERVER_NAME_HEADER", "gis311")
