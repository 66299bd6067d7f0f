"""Project settings, driven by the environment with safe local defaults.

Why env-driven: the same code runs on a laptop, in CI and in a city's data centre; only the
environment differs. Every setting a deployment may change is read here, once, and nowhere else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tomllib
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from gis_app.secret_file import install_secret

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# DJANGO_PROFILE=production hardens cookies, HTTPS and HSTS and refuses to start without DJANGO_SECRET_KEY.
PROFILE = os.environ.get("DJANGO_PROFILE", "development")
if PROFILE not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_PROFILE must be development or production; got {PROFILE!r}")
PRODUCTION = PROFILE == "production"
# Off unless asked for: a debug page shows settings and request metadata to whoever triggers an error.
DEBUG = env_bool("DJANGO_DEBUG", False)


if os.environ.get("DJANGO_SECRET_KEY"):
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
elif PRODUCTION:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in the production profile (a long random string)")
else:
    SECRET_KEY = install_secret(BASE_DIR / "var" / "secret-key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    # Our apps, in import order: layers <- gis_app <- routing <- field_api.
    "layers",
    "gis_app",
    "gis_app.citydata",
    "gis_app.knowledge",
    "gis_app.planner",
    "routing",
    "field_api",
    "field_api.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the WSGI server (gunicorn), compressed and cached, before any session work.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A database that is restarting answers 503 with Retry-After, never a 500 page (gis_app/health.py).
    "gis_app.health.DatabaseUnavailable",
    # The council, report and planner pages read from a replica when one is configured (gis_app/db_router.py).
    "gis_app.db_router.ReplicaForReading",
    "gis_app.middleware.InputLimits",
    "gis_app.middleware.SafeHeaders",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The public pages speak the visitor's language (browser or chosen), English by default.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Two-factor sign-in: django-otp marks the session's user verified or not; the gate holds back the rest.
    "django_otp.middleware.OTPMiddleware",
    "gis_app.two_factor.TwoFactorGate",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: a locked-out sign-in is answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gis_app.urls"
WSGI_APPLICATION = "gis_app.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gis_app.context_processors.city",
            ],
        },
    },
]


def _database_url() -> str:
    """DATABASE_URL wins; otherwise compose one from the libpq variables the set-up script uses."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = os.environ.get("PGPORT", "5432")
    user = os.environ.get("PGUSER", "postgres")
    password = os.environ.get("PGPASSWORD", "")
    name = os.environ.get("GIS311_DB", "gis311")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"postgis://{auth}{host}:{port}/{name}"


# Persistent connections, each checked before a request uses it: after PostgreSQL restarts, the next request
# opens a fresh connection instead of failing on a dead one.
DATABASES = {"default": dj_database_url.parse(_database_url(), conn_max_age=60, conn_health_checks=True)}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# PostgreSQL's JIT compiles any query its planner thinks expensive; for a web request's page of rows the compile
# costs more than it saves (81 ms of a 238 ms Open311 page of 500, measured). Off unless PG_JIT=on.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c jit={os.environ.get('PG_JIT', 'off')}"
# A read replica for the reading pages (council, reports, planner): gis_app/db_router.py.
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=60, conn_health_checks=True
    )
    DATABASES["replica"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"]["OPTIONS"])
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["gis_app.db_router.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# After signing in, each role lands on its own page (gis_app.views.start); after signing out, the city map.
LOGIN_REDIRECT_URL = "start"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
# The languages residents are answered in (public pages and messages); a reporter's choice at intake is kept.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "gis_app" / "locale"]
# The city: CITY names its folder under fixtures/, whose city.toml the CITY_* below read (env overrides each).
CITY = os.environ.get("CITY", "chicago")
CITY_DIR = BASE_DIR / "fixtures" / CITY
CITY_FILE = Path(os.environ.get("CITY_FILE") or CITY_DIR / "city.toml")
_CITY = tomllib.loads(CITY_FILE.read_text(encoding="utf-8")) if CITY_FILE.is_file() else {}
CITY_NAME = os.environ.get("CITY_NAME") or str(_CITY.get("name") or CITY.replace("_", " ").title())
# Its word for its districts, lower case (city.toml [words] district / districts): pages say it, not "ward".
_WORDS = _CITY.get("words") or {}
CITY_DISTRICT_WORD = os.environ.get("CITY_DISTRICT_WORD") or str(_WORDS.get("district") or "ward")
CITY_DISTRICTS_WORD = os.environ.get("CITY_DISTRICTS_WORD") or str(_WORDS.get("districts") or f"{CITY_DISTRICT_WORD}s")
# Where its maps open, [w, s, e, n] (city.toml [map] view; default: layers.basemap.view_bbox); env "w,s,e,n".
_VIEW = os.environ.get("CITY_MAP_VIEW") or (_CITY.get("map") or {}).get("view")
CITY_MAP_VIEW = [float(v) for v in (_VIEW.split(",") if isinstance(_VIEW, str) else _VIEW)] if _VIEW else None
if CITY_MAP_VIEW is not None and len(CITY_MAP_VIEW) != 4:
    raise ImproperlyConfigured(f"the city's map view must be [west, south, east, north]; got {CITY_MAP_VIEW}")
# [geocoding] learn_address_points: points from its own history (off: a history scored must not be a reference).
_LEARN = bool((_CITY.get("geocoding") or {}).get("learn_address_points", False))
CITY_LEARN_ADDRESS_POINTS = env_bool("CITY_LEARN_ADDRESS_POINTS", _LEARN)
# The city's own time zone: due dates, "today" and effective dates of layers are read in it.
TIME_ZONE = os.environ.get("CITY_TIME_ZONE") or str(_CITY.get("time_zone") or "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# How long browsers may keep a static file Django serves itself (the demo; production serves them elsewhere).
STATIC_MAX_AGE_SECONDS = int(os.environ.get("STATIC_MAX_AGE_SECONDS", "3600"))
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "var" / "static"))
# WhiteNoise serves STATIC_ROOT (`manage.py collectstatic`, which `make demo` runs); without it, straight from
# the apps' static folders (development and tests).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not PRODUCTION)
# WhiteNoise warns at start-up about a STATIC_ROOT that does not exist yet (a fresh clone before collectstatic):
# an empty folder is the truth there.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_MAX_AGE = STATIC_MAX_AGE_SECONDS
# collectstatic also writes gzip and Brotli copies, which WhiteNoise sends to browsers that accept them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "var" / "media"))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    # One JSON error shape for every API but Open311 (layers/http.py).
    "EXCEPTION_HANDLER": "layers.http.exception_handler",
    # Staff sign in with a session (pages and API alike); crews use device tokens, Open311 clients api keys.
    # No HTTP Basic: it would be a password-guessing door beside the login page's throttle.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    # The client address for throttles: X-Forwarded-For is believed only through this many trusted proxies
    # (0: the socket's address; a spoofed header earns no fresh bucket).
    "NUM_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "gis311 API",
    # /api/docs/: Swagger UI from our own host (no CDN), its start-up script a file (the CSP allows no inline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "DESCRIPTION": "311 service requests, layers, crew dispatch and Open311 GeoReport v2.",
    "VERSION": "0.1.0",
    # Open311's JSON endpoints are plain views in the spec's shapes: described by hand (field_api/open311/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "field_api.open311.openapi.open311_paths",
    ],
    # One name per choice set, so clients see the same enum wherever it appears.
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "gis_app.choices.Status",
        "StopStatusEnum": "routing.models.StopStatus",
        "StopEventKindEnum": "routing.models.EventKind",
        "CrewEventKindEnum": "field_api.crew.serializers.CREW_KIND_CHOICES",
        "PhotoStageEnum": "field_api.models.StopPhoto.Stage",
    },
}

# ---- City configuration (data, not code: another city changes these and its fixtures) ----
# Each CITY_* file (default: in CITY's folder) can be set on its own; a missing or broken one is a system check
# error naming its setting (gis_app/checks.py), with no fall-back to another city's file.


def _city_file(setting: str, name: str) -> Path:
    return Path(os.environ.get(setting) or CITY_DIR / name)


CITY_LAYER_MANIFEST = _city_file("CITY_LAYER_MANIFEST", "layers.toml")
CITY_311_MAPPING = _city_file("CITY_311_MAPPING", "311_mapping.toml")
CITY_ASSUMPTIONS = _city_file("CITY_ASSUMPTIONS", "assumptions.toml")
# Knowledge-base articles for information calls (optional: a city may start with an empty knowledge base).
CITY_KNOWLEDGE = _city_file("CITY_KNOWLEDGE", "knowledge.toml")
# Planner analyses (gis_app/planner). The default repeat-location radius: see README "Planner" for why 30 m.
# Point-in-area lookups (wards, community areas) from an in-process index per layer version where a point is
# inside exactly one area; PostGIS answers the rest (layers/point_index.py). Off: every lookup in SQL.
LAYERS_IN_PROCESS_LOOKUP = env_bool("LAYERS_IN_PROCESS_LOOKUP", True)

# ---- serving ----
# A 503 (database restarting, not ready) tells clients to come back after this many seconds.
RETRY_AFTER_SECONDS = int(os.environ.get("RETRY_AFTER_SECONDS", "5"))

# ---- council and reports ----
# SLA compliance under this share is flagged on every report (the seed documents' 90 %).
REPORTS_SLA_TARGET = float(os.environ.get("REPORTS_SLA_TARGET", "0.90"))
# How often the council map asks for fresh counts (seconds): a request filed shows up within this.
REPORTS_LIVE_SECONDS = int(os.environ.get("REPORTS_LIVE_SECONDS", "5"))
# At most this many requests are listed (and mapped) on a ward page; counts always cover every request.
REPORTS_WARD_ROWS = int(os.environ.get("REPORTS_WARD_ROWS", "500"))
PLANNER_REPEAT_RADIUS_M = float(os.environ.get("PLANNER_REPEAT_RADIUS_M", "30"))
# Analyses over more requests than this run on the Celery worker with progress; smaller ones answer at once.
PLANNER_INLINE_MAX_REQUESTS = int(os.environ.get("PLANNER_INLINE_MAX_REQUESTS", "150000"))
PLANNER_MAX_DAYS = int(os.environ.get("PLANNER_MAX_DAYS", "3660"))
CITY_STREETS_MANIFEST = _city_file("CITY_STREETS_MANIFEST", "streets.toml")
# The address grid (house number → position) geocoding calibrates on the street layer (layers/grid.py). Optional:
# a city without a numbered grid has no such file (unless CITY_GRID names one, which must then exist).
CITY_GRID = _city_file("CITY_GRID", "grid.toml")
CITY_GRID_REQUIRED = bool(os.environ.get("CITY_GRID"))
# Business calendar for SLA due dates: opening hours and work days (Monday = 0), city time.
CITY_BUSINESS_HOURS = os.environ.get("CITY_BUSINESS_HOURS", "08:00-17:00")
CITY_WORKDAYS = [int(d) for d in os.environ.get("CITY_WORKDAYS", "0,1,2,3,4").split(",") if d.strip()]
# Lookups warn when a point is closer than this to a ward edge (metres).
# Open311 GeoReport v2 (field_api/open311.py): the jurisdiction_id clients may send (empty: any is ignored),
# how many requests one GET returns at most and the longest date window it answers (the spec's 90 days).
OPEN311_JURISDICTION_ID = os.environ.get("OPEN311_JURISDICTION_ID", "")
OPEN311_MAX_REQUESTS = int(os.environ.get("OPEN311_MAX_REQUESTS", "1000"))
# Open-data exports above this many rows are written by the worker (202 + a job URL) instead of streamed.
OPENDATA_INLINE_MAX_ROWS = int(os.environ.get("OPENDATA_INLINE_MAX_ROWS", "200000"))
OPEN311_MAX_DAYS = int(os.environ.get("OPEN311_MAX_DAYS", "90"))
OPEN311_CONTACT = os.environ.get("OPEN311_CONTACT", "311 open data team, 311@city.example")
# Open311 rate limits, "N/second|minute|hour|day" ("" for none): posts per api_key, reads per client address.
OPEN311_POST_RATE = os.environ.get("OPEN311_POST_RATE", "120/hour")
OPEN311_READ_RATE = os.environ.get("OPEN311_READ_RATE", "600/minute")
WARD_EDGE_WARNING_METRES = float(os.environ.get("WARD_EDGE_WARNING_METRES", "30"))
# One rule for "inside the city": a point outside every ward but this close to one is in the nearest (a corner
# on the city limit, a boundary street's centreline). Geocoding, intake and loaders all ask layers.lookup.
CITY_EDGE_SLACK_METRES = float(os.environ.get("CITY_EDGE_SLACK_METRES", "30"))

# gis.W001: Debian 12's GDAL 3.6 cannot block file/network access from spatial references (3.9 can).
# The stack takes GDAL from Debian by decision; we only read files we were given, never user WKT SRS.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# ---- cache (rate-limit counters, map tiles) ----
# Redis where CACHE_URL is set (e.g. redis://127.0.0.1:6379/1), so every web worker and machine shares one
# count; else this process's memory, right for one process (the tests). With Redis away the cache fails open
# (django-redis IGNORE_EXCEPTIONS: a miss, a write dropped): a rate limit is briefly per process and a tile
# is rebuilt, but intake never fails on it.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            # redis-py retries a failed command with back-off by default: 3.7 s per cache read while Redis is
            # away, on every request. A cache that fails open has nothing to gain from waiting: fail at once.
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0)},
        },
    }
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# Configuration read on every request (types, rules, holidays, storms, webhook endpoints, layers in force) kept
# per process until it changes (layers.memo): the generation is checked in the shared cache at most every
# CHECK seconds; copies are dropped after MAX seconds anyway, or LOCAL seconds without a shared cache.
CONFIG_MEMO = env_bool("CONFIG_MEMO", True)
CONFIG_MEMO_CHECK_SECONDS = float(os.environ.get("CONFIG_MEMO_CHECK_SECONDS", "1"))
CONFIG_MEMO_MAX_SECONDS = float(os.environ.get("CONFIG_MEMO_MAX_SECONDS", "300"))
CONFIG_MEMO_LOCAL_SECONDS = float(os.environ.get("CONFIG_MEMO_LOCAL_SECONDS", "5"))

# ---- background jobs, notifications, webhooks ----
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# Each task lives beside its work; the worker imports these modules to find them.
CELERY_IMPORTS = [
    "gis_app.outbox",
    "gis_app.notifications",
    "gis_app.webhooks",
    "gis_app.sla_alerts",
    "gis_app.planner.runs",
    "field_api.opendata",
    "routing.planning.day",
]
CELERY_BEAT_SCHEDULE = {
    "check-slas": {"task": "gis311.check_slas", "schedule": float(os.environ.get("SLA_CHECK_SECONDS", "300"))},
    "relay-outbox": {"task": "gis311.relay_outbox", "schedule": float(os.environ.get("OUTBOX_RELAY_SECONDS", "10"))},
}
# Outbox (gis_app/outbox.py): a web process's thread publishes in batches; the relay takes jobs waiting GRACE
# seconds, and publishes again a job the broker took but no worker finished within REDELIVER seconds (a broker
# that lost its queue), up to MAX_DELIVERIES times. REDELIVER is longer than the visibility timeout (below).
OUTBOX_PUBLISH_IN_BACKGROUND = env_bool("OUTBOX_PUBLISH_IN_BACKGROUND", True)
OUTBOX_GRACE_SECONDS = float(os.environ.get("OUTBOX_GRACE_SECONDS", "5"))
OUTBOX_REDELIVER_SECONDS = float(os.environ.get("OUTBOX_REDELIVER_SECONDS", "1200"))
OUTBOX_MAX_DELIVERIES = int(os.environ.get("OUTBOX_MAX_DELIVERIES", "5"))
# A web request never waits on a broker that is away: one quick try, then the outbox keeps the job.
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECTION_TIMEOUT", "1"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A job taken by a worker that died before acknowledging it goes back on the queue after this long; longer
    # than the longest job (a day's plan at its 600 s limit), so a running job is never handed out twice.
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "900")),
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
}
# Late acknowledgement (above) and a job whose worker process dies is handed back at once: it runs again, and
# being idempotent on its own row, it does its work once.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "311@city.example")
SMS_BACKEND = os.environ.get("SMS_BACKEND", "gis_app.notifications.FileSmsBackend")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(BASE_DIR / "var" / "sms"))
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "6"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
RETRY_BASE_SECONDS = float(os.environ.get("RETRY_BASE_SECONDS", "30"))
SLA_WARNING_HOURS = float(os.environ.get("SLA_WARNING_HOURS", "4"))

# Intake links a report to the issue it repeats when the score clears the type's dedup threshold (gis_app.dedup).
DEDUP_AUTO_LINK = env_bool("DEDUP_AUTO_LINK", True)
# A type links reports on its own only once its threshold was learned from this many labelled pairs (its own, or
# the city's pooled when the type has too few); before that dedup offers candidates and a person decides.
DEDUP_MIN_PAIRS = int(os.environ.get("DEDUP_MIN_PAIRS", "20"))
# How far a pinned report's point may lie from its problem (metres; gis_app.dedup.pin_slack_m): two pins for one
# pothole count as that much nearer. 10 m is a phone's usual GPS error among buildings, stated, not fitted; a city
# whose app sends a reported accuracy, or whose labelled pinned pairs say otherwise, sets its own.
DEDUP_PIN_UNCERTAINTY_M = float(os.environ.get("DEDUP_PIN_UNCERTAINTY_M", "10"))
# `manage.py replay_today` files the history's last this many days again as today's open work.
REPLAY_DAYS = float(os.environ.get("REPLAY_DAYS", "2"))

# Dispatch (routing.planning). A day is planned per department over the jobs that fit it: most urgent first,
# until the crews' hours (times the overbook factor: the solver decides the last few) are spent, each job
# costing its service minutes plus a travel allowance; never more than ROUTING_MAX_JOBS_PER_PLAN jobs.
ROUTING_TIME_LIMIT_SECONDS = float(os.environ.get("ROUTING_TIME_LIMIT_SECONDS", "45"))
ROUTING_MAX_JOBS_PER_PLAN = int(os.environ.get("ROUTING_MAX_JOBS_PER_PLAN", "400"))
ROUTING_TRAVEL_ALLOWANCE_MINUTES = float(os.environ.get("ROUTING_TRAVEL_ALLOWANCE_MINUTES", "10"))
ROUTING_OVERBOOK_FACTOR = float(os.environ.get("ROUTING_OVERBOOK_FACTOR", "1.2"))
# The request attribute holding an appointment a resident agreed to, "HH:MM-HH:MM" (a hard time window).
ROUTING_APPOINTMENT_ATTRIBUTE = os.environ.get("ROUTING_APPOINTMENT_ATTRIBUTE", "appointment_window")
# Where depots and crews per department are ([[depots]] / [[crews]]), loaded by `manage.py load_crews`; by default
# the demo assumptions file, so every demo assumption is in one readable file.
CITY_CREWS = Path(os.environ.get("CITY_CREWS") or CITY_ASSUMPTIONS)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# ---- security (DJANGO_PROFILE=production; see README "Configuration") ----
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
PERMISSIONS_POLICY = "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()"
# Scripts only from our own files (the pages carry no inline script); styles may be inline (Leaflet sets them).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)
if PRODUCTION:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if int(os.environ.get("TRUSTED_PROXIES", "0")):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A crew's stop event must be timed on the stop's service day (a night shift may run this far past midnight).
FIELD_DAY_GRACE_HOURS = float(os.environ.get("FIELD_DAY_GRACE_HOURS", "6"))
# A tablet sign-in link (one-time, shown as a QR code) works for this long.
FIELD_SIGN_IN_HOURS = float(os.environ.get("FIELD_SIGN_IN_HOURS", "24"))
# The tablet's offline map: streets within this many metres of the route.
FIELD_MAP_CORRIDOR_M = float(os.environ.get("FIELD_MAP_CORRIDOR_M", "350"))
# Photo links in the crew API are signed and work for this long (photos are not public files).
PHOTO_LINK_MAX_AGE_HOURS = float(os.environ.get("PHOTO_LINK_MAX_AGE_HOURS", "48"))
# What the `Server` header says (no software name or version to look up exploits by).
SERVER_NAME_HEADER = os.environ.get("SERVER_NAME_HEADER", "gis311")
# Input limits (gis_app/middleware.py): query parameters and form fields, JSON nesting depth.
DATA_UPLOAD_MAX_NUMBER_FIELDS = int(os.environ.get("MAX_FIELDS", "1000"))
MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", "32"))
# A survey link ("is it fixed?") expires after this many days and works once.
SURVEY_MAX_AGE_DAYS = int(os.environ.get("SURVEY_MAX_AGE_DAYS", "30"))

# Password guessing (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one account, or from one
# address, sign-in is refused (429) for AXES_COOLOFF_TIME, on the staff pages and the admin alike. The
# address follows the same TRUSTED_PROXIES rule as the API throttles.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "gis_app.middleware.client_ip"
AXES_VERBOSE = False
# Two-factor sign-in for staff (gis_app/two_factor.py): "required" makes every staff account set up an
# authenticator at its next sign-in; "offered" lets each account opt in (and then always asks it for a code).
STAFF_TWO_FACTOR = os.environ.get("STAFF_TWO_FACTOR", "required" if PRODUCTION else "offered")
if STAFF_TWO_FACTOR not in ("required", "offered"):
    raise ImproperlyConfigured(f"STAFF_TWO_FACTOR must be 'required' or 'offered', not {STAFF_TWO_FACTOR!r}")
OTP_TOTP_ISSUER = f"{CITY_NAME} 311"
