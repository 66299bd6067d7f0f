# Identifiers of districts kept as the source writes them ("09410", "Ward 8", "District 3B").

from django.db import migrations, models

CODE_HELP = "The identifier exactly as the source writes it ('09410', 'Ward 8', 'District 3B'); pages show it."
NUMBER_HELP = (
    "The official number (ward 1…50, area 1…77); for identifiers that are not plain numbers, the one number each "
    "holds ('Ward 8' is 8) or its place in natural order ('District 3A' before '3B')."
)


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0005_ranged_segments"),
    ]

    operations = [
        migrations.AddField(
            model_name="communityarea",
            name="code",
            field=models.CharField(blank=True, help_text=CODE_HELP, max_length=60),
        ),
        migrations.AddField(
            model_name="ward",
            name="code",
            field=models.CharField(blank=True, help_text=CODE_HELP, max_length=60),
        ),
        migrations.AlterField(
            model_name="communityarea",
            name="number",
            field=models.PositiveIntegerField(help_text=NUMBER_HELP),
        ),
        migrations.AlterField(
            model_name="ward",
            name="number",
            field=models.PositiveIntegerField(help_text=NUMBER_HELP),
        ),
        # Areas loaded before identifiers were kept as written: their number is how the source wrote them.
        migrations.RunSQL(
            "UPDATE layers_ward SET code = number::text WHERE code = '';"
            "UPDATE layers_communityarea SET code = number::text WHERE code = '';",
            migrations.RunSQL.noop,
        ),
    ]
