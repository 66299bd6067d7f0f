"""The audit trail is append-only in the database itself: UPDATE and DELETE on request events raise.

Why a trigger and not only application code: the audit trail must hold against any client of the
database (a shell, a script, a future app), not just ours.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION gis_app_refuse_event_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the request audit trail is append-only: % on gis_app_requestevent is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER gis_app_requestevent_append_only
    BEFORE UPDATE OR DELETE ON gis_app_requestevent
    FOR EACH ROW EXECUTE FUNCTION gis_app_refuse_event_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS gis_app_requestevent_append_only ON gis_app_requestevent;
DROP FUNCTION IF EXISTS gis_app_refuse_event_change();
"""


class Migration(migrations.Migration):
    dependencies = [("gis_app", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
