"""This install's own secret key, kept in a file (settings reads it when DJANGO_SECRET_KEY is not set)."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def install_secret(path: Path) -> str:
    """This install's own secret key: made once (random, 50 bytes), kept in var/ with owner-only access.

    Why: a key written in the code signs sessions and survey links for anyone who reads the code. Several
    processes may start at once on a fresh install: the first creates the file, the others read it."""
    for _ in range(100):
        if path.exists():
            key = path.read_text(encoding="utf-8").strip()
            if key:
                return key
            time.sleep(0.02)  # another process is writing it
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return key
    raise ImproperlyConfigured(f"{path} stays empty: delete it, or set DJANGO_SECRET_KEY")
