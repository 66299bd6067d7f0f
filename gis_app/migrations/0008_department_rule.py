"""RoutingRule becomes DepartmentRule: it chooses a request's department ("routing" is the crews' word)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gis_app", "0007_request_media_url"),
    ]

    operations = [
        migrations.RenameModel("RoutingRule", "DepartmentRule"),
        migrations.AlterField(
            model_name="departmentrule",
            name="service_type",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="department_rules",
                                    to="gis_app.servicetype"),
        ),
    ]
