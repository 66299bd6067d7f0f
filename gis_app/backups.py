"""Backups: the database (pg_dump's custom format, restored with pg_restore) and the media files (crew photos,
exports) together in one folder, with a manifest that says what is in it and how to check it.

`make backup` and `make restore FROM=folder [DB=name] [MEDIA=folder]` call `backup()` and `restore()` through
thin management commands. A restore goes into a database that does not exist yet (never over a live one):
a city checks a backup by restoring it beside production, then switches over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

COUNTED = {  # table: what its rows are, as a backup report names them
    "gis_app_servicerequest": "requests",
    "gis_app_requestevent": "request events",
    "gis_app_notification": "notifications",
    "field_api_stopevent": "crew events",
    "field_api_stopphoto": "photos",
    "layers_layerversion": "layer versions",
}


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says which step and why."""


@dataclass
class BackupReport:
    folder: Path
    database: str
    counts: dict[str, int]
    media_files: int
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "database": self.database,
            "counts": self.counts,
            "media_files": self.media_files,
            "files": self.files,
        }


def _libpq_env(db: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PGHOST=str(db.get("HOST") or "127.0.0.1"),
        PGPORT=str(db.get("PORT") or 5432),
        PGUSER=str(db.get("USER") or "postgres"),
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _run(command: list[str], env: dict[str, str], step: str) -> None:
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode:
        raise BackupError(f"{step} failed ({command[0]} exit {out.returncode}): {out.stderr.strip()[-800:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def counts(cursor: Any) -> dict[str, int]:
    out = {}
    for table in COUNTED:
        cursor.execute(f"SELECT count(*) FROM {table}")
        out[table] = int(cursor.fetchone()[0])
    return out


def backup(to: Path | None = None, media_root: Path | None = None) -> BackupReport:
    """Dump the database and archive the media into a new dated folder under `to` (default var/backups)."""
    db = connection.settings_dict
    root = Path(to or Path(settings.BASE_DIR) / "var" / "backups")
    folder = root / timezone.now().strftime("%Y%m%dT%H%M%S")
    folder.mkdir(parents=True, exist_ok=False)
    with connection.cursor() as cur:
        before = counts(cur)
    _run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={folder / 'database.dump'}", str(db["NAME"])],
        _libpq_env(db),
        "dumping the database",
    )
    media = Path(media_root or settings.MEDIA_ROOT)
    n = 0
    with tarfile.open(folder / "media.tar.gz", "w:gz") as tar:
        if media.is_dir():
            for path in sorted(p for p in media.rglob("*") if p.is_file()):
                tar.add(path, arcname=str(path.relative_to(media)))
                n += 1
    report = BackupReport(folder=folder, database=str(db["NAME"]), counts=before, media_files=n)
    report.files = {name: _sha256(folder / name) for name in ("database.dump", "media.tar.gz")}
    manifest = {**report.as_json(), "made_at": dt.datetime.now(dt.UTC).isoformat()}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return report


def restore(folder: Path, database: str, media_to: Path) -> BackupReport:
    """Restore a backup folder into a new database `database` and its media into `media_to`; checks the files
    against the manifest first and the row counts after."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        if _sha256(folder / name) != digest:
            raise BackupError(f"{folder / name} does not match its manifest: the backup is damaged")
    db = connection.settings_dict
    env = _libpq_env(db)
    admin = psycopg.connect(
        dbname="postgres",
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env.get("PGPASSWORD"),
        autocommit=True,
    )
    with admin, admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if cur.fetchone():
            raise BackupError(f"database {database!r} exists: a restore goes into a new database only")
        cur.execute(f'CREATE DATABASE "{database}"')
    _run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={database}", str(folder / "database.dump")],
        env,
        "restoring the database",
    )
    media_to.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "media.tar.gz", "r:gz") as tar:
        tar.extractall(media_to, filter="data")  # no absolute paths, no links out of the folder
        n = len([m for m in tar.getmembers() if m.isfile()])
    restored = psycopg.connect(
        dbname=database, host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], password=env.get("PGPASSWORD")
    )
    with restored, restored.cursor() as cur:
        after = counts(cur)
    if after != manifest["counts"]:
        raise BackupError(f"restored counts {after} differ from the backup's {manifest['counts']}")
    return BackupReport(folder=folder, database=database, counts=after, media_files=n, files=manifest["files"])
