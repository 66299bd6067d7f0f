"""Test settings: the project's own, with what makes a test run clean and fast."""

from gis_app.settings import *  # noqa: F403
from gis_app.settings import DATABASES

# Live-server threads must not keep connections open past a request, or the test database
# cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Hashing passwords slowly is a production virtue and a test-suite cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
