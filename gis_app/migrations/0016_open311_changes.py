import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Open311 extensions (issue 24): a real changeset for the service list, types whose locations open data
    rounds, and an index for updated_after / the change feeds."""

    dependencies = [("gis_app", "0015_location_note_db_default")]

    operations = [
        migrations.AddField(
            model_name="servicetype",
            name="location_private",
            field=models.BooleanField(
                default=False,
                db_default=False,
                help_text="Open data rounds this type's locations to the block (about 100 m): the exact spot could "
                "point at one household (e.g. a rat complaint in a yard).",
            ),
        ),
        migrations.AddField(
            model_name="servicetype",
            name="updated_at",
            field=models.DateTimeField(
                auto_now=True,
                default=django.utils.timezone.now,
                help_text="Open311's service-list changeset follows it.",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="serviceattribute",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="servicerequest",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
    ]
