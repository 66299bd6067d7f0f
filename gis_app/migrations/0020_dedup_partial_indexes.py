"""Dedup's live lookup reads open roots and recently closed roots on indexes of their own (gis_app/dedup.py,
_LIVE_SQL): a busy point's closed history is no longer walked for every new report there. The status lists are
OPEN_STATUSES and transitions.DONE as literals (the planner uses a partial index only when the query's list
is inside the index's); tests/test_dedup.py checks that the live lookup's plan uses both."""

from django.db import migrations

OPEN = "('received', 'open', 'assigned', 'in_progress', 'on_hold')"
DONE = "('completed', 'closed')"


class Migration(migrations.Migration):
    dependencies = [("gis_app", "0019_service_type_crew_work")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS gis_app_servicerequest_open_roots_geog ON gis_app_servicerequest "
            f"USING GIST ((location::geography)) WHERE parent_id IS NULL AND status IN {OPEN}",
            "DROP INDEX IF EXISTS gis_app_servicerequest_open_roots_geog",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS gis_app_servicerequest_done_roots ON gis_app_servicerequest "
            f"(service_type_id, closed_at) WHERE parent_id IS NULL AND status IN {DONE}",
            "DROP INDEX IF EXISTS gis_app_servicerequest_done_roots",
        ),
    ]
