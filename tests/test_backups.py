"""Backups (issue 25): `manage.py backup` then `manage.py restore` into a fresh database finds every request,
every event and every photo. Actors: Crew Alpha's tablet completes a stop with a photo; Olu the operator backs
up and restores."""

from __future__ import annotations

import io
import uuid

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from field_api.models import StopPhoto
from gis_app.models import RequestEvent, ServiceRequest
from tests.test_field_api import alpha_stops, event, jpeg, post_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def completed_with_photo(plan, alpha_tablet, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    stop = alpha_stops(plan)[0]
    assert post_event(alpha_tablet, stop, event("completed"), photos=[jpeg()]).status_code == 201
    return stop


def test_a_backup_restores_into_a_fresh_database_with_every_request_event_and_photo(completed_with_photo, tmp_path):
    out = io.StringIO()
    call_command("backup", "--to", str(tmp_path / "backups"), stdout=out)
    folder = next((tmp_path / "backups").iterdir())
    assert {p.name for p in folder.iterdir()} == {"database.dump", "media.tar.gz", "manifest.json"}
    stored = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]  # the photo and its thumbnail
    assert f"1 photos, 2 layer versions; {len(stored)} media files" in out.getvalue()
    name = f"restore_{uuid.uuid4().hex[:8]}"
    media = tmp_path / "restored-media"
    try:
        call_command("restore", str(folder), "--database", name, "--media-to", str(media), stdout=out)
        assert "every count matches the backup" in out.getvalue()
        db = connection.settings_dict
        with (
            psycopg.connect(
                dbname=name, host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"]
            ) as restored,
            restored.cursor() as cur,
        ):
            cur.execute("SELECT ticket, status FROM gis_app_servicerequest ORDER BY ticket")
            assert cur.fetchall() == list(ServiceRequest.objects.order_by("ticket").values_list("ticket", "status"))
            cur.execute("SELECT count(*) FROM gis_app_requestevent")
            assert cur.fetchone()[0] == RequestEvent.objects.count()
            cur.execute("SELECT image FROM field_api_stopphoto")
            images = [row[0] for row in cur.fetchall()]
        original = StopPhoto.objects.get()
        assert images == [original.image.name]
        with original.image.open("rb") as fh:
            assert (media / original.image.name).read_bytes() == fh.read()  # the very photo
        with pytest.raises(CommandError, match="a restore goes into a new database only"):
            call_command("restore", str(folder), "--database", name, "--media-to", str(media))
    finally:
        with connection.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_damaged_backup_is_refused_before_anything_is_restored(completed_with_photo, tmp_path):
    call_command("backup", "--to", str(tmp_path / "b"), stdout=io.StringIO())
    folder = next((tmp_path / "b").iterdir())
    with open(folder / "media.tar.gz", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("restore", str(folder), "--database", "never_made", "--media-to", str(tmp_path / "m"))
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'never_made'")
        assert cur.fetchone() is None
    with pytest.raises(CommandError, match=r"no manifest\.json"):
        call_command("restore", str(tmp_path), "--database", "never_made", "--media-to", str(tmp_path / "m"))
