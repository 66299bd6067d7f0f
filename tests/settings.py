"""Test settings: the project's own, with what makes a test run clean and fast."""

import os

from gis_app.settings import *  # noqa: F403
from gis_app.settings import DATABASES

# A key for the tests alone (the project never uses a key from the code: gis_app.secret_file.install_secret).
SECRET_KEY = "tests-only-secret-key-never-used-outside-the-test-suite-0123456789"

# Live-server threads must not keep connections open past a request, or the test database
# cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("TEST_CONN_MAX_AGE", "0"))  # fault tests keep them
# Hashing passwords slowly is a production virtue and a test-suite cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Background jobs run inline unless a test starts a real worker (tests/test_background_jobs.py).
CELERY_TASK_ALWAYS_EAGER = os.environ.get("TEST_EAGER", "1") == "1"  # the two-machine test runs real workers
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
RETRY_BASE_SECONDS = 0.2
# Intake dedup is switched on per test (tests/test_dedup.py): elsewhere two literal reports on one block are
# meant to stay separate.
DEDUP_AUTO_LINK = False
# Tests' types have hand-set thresholds (no labelled history): those that switch linking on link; the rule that a
# type links only once learned from enough pairs has its own tests (tests/test_dedup_learning.py).
DEDUP_MIN_PAIRS = 0
# A Redis database of its own, so a demo worker never picks up test jobs.
CELERY_BROKER_URL = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")  # fault tests: their own
