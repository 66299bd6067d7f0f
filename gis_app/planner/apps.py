from django.apps import AppConfig


class PlannerConfig(AppConfig):
    """Planners' analyses: repeat locations, hot and cold spots, emerging trends (statistics in `stats`)."""

    name = "gis_app.planner"
    label = "planner"
    verbose_name = "Planner analyses"
    default_auto_field = "django.db.models.BigAutoField"
